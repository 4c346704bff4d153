"""Signed console cookies: the operator session and the one-shot flash message.

A cookie value is `base64url(json payload) "." base64url(HMAC-SHA256(secret, payload))`. Nothing
in it is secret (the key's fingerprint, an expiry, a CSRF token); the signature only stops anyone
from forging or changing it. The secret is SESSION_SECRET, else a random one per process (every
session then ends when the process restarts, and several API processes need a shared secret).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from orchestrator.settings import Settings

SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Session:
    fingerprint: str  # Caller.fingerprint of the operator key that logged in
    expires_at: int  # Unix seconds
    csrf: str  # sent back in every form; compared in constant time

    @property
    def actor(self) -> str:
        """Who did it, for the event log (the same form as the API's `Caller.actor`)."""
        return f"operator:{self.fingerprint}"


def new_session(fingerprint: str, now: datetime) -> Session:
    expires = int((now + SESSION_TTL).timestamp())
    return Session(fingerprint, expires, secrets.token_urlsafe(32))


def seal(payload: dict[str, Any], secret: bytes) -> str:
    """Sign `payload` (JSON-able) for a cookie."""
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(body, secret))}"


def unseal(value: str | None, secret: bytes) -> dict[str, Any] | None:
    """The payload of a cookie made by seal() with this secret; None for anything else."""
    if not value or value.count(".") != 1:
        return None
    body, signature = value.split(".")
    try:
        if not hmac.compare_digest(_unb64(signature), _mac(body, secret)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def encode_session(session: Session, secret: bytes) -> str:
    return seal({"f": session.fingerprint, "e": session.expires_at, "c": session.csrf}, secret)


def decode_session(value: str | None, secret: bytes, now: datetime) -> Session | None:
    """The session in a cookie, if the signature is ours and it has not expired."""
    payload = unseal(value, secret)
    if payload is None:
        return None
    fingerprint, expires, csrf = payload.get("f"), payload.get("e"), payload.get("c")
    if not (isinstance(fingerprint, str) and isinstance(expires, int) and isinstance(csrf, str)):
        return None
    if expires <= now.timestamp():
        return None
    return Session(fingerprint, expires, csrf)


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())


def fingerprint_of(key: str) -> str:
    """The same 8-hex fingerprint as orchestrator.api.auth.identify() gives."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def still_operator(session: Session, operator_keys: Iterable[SecretStr]) -> bool:
    """The key that logged in is still an operator key (removing a key ends its sessions)."""
    found = False
    for key in operator_keys:
        found |= hmac.compare_digest(fingerprint_of(key.get_secret_value()), session.fingerprint)
    return found


def session_secret(settings: Settings) -> bytes:
    """SESSION_SECRET when set, else a random secret for this process (sessions then end
    with the process)."""
    configured = settings.session_secret
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode()
    return _process_secret()


@functools.cache
def _process_secret() -> bytes:
    return secrets.token_bytes(32)


def _mac(body: str, secret: bytes) -> bytes:
    return hmac.new(secret, body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
