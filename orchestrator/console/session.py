"""Console sessions and signed cookies.

The session cookie holds a random token; the session itself (who, until when, its CSRF token)
is a row on the server (orchestrator/store/console_sessions.py), so logging out ends it at once
and everywhere. The flash message and the login form's CSRF token ride in signed cookies:
`base64url(json payload) "." base64url(HMAC-SHA256(secret, payload))`; nothing in them is
secret, the signature only stops anyone from forging or changing them. The secret is
SESSION_SECRET, else a random one per process (several API processes need a shared secret).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.api.auth import Role
from orchestrator.api.keys import KeyRing
from orchestrator.settings import Settings

SESSION_TTL = timedelta(hours=8)
LOGIN_FORM_TTL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # the cookie's value; the server keeps only its hash
    actor: str  # who did it, for the event log (the same form as the API's `Caller.actor`)
    fingerprint: str  # Caller.fingerprint of the operator key that logged in
    expires_at: datetime
    csrf: str  # sent back in every form; compared in constant time


def new_session(actor: str, fingerprint: str, now: datetime) -> Session:
    return Session(
        secrets.token_urlsafe(32), actor, fingerprint, now + SESSION_TTL, secrets.token_urlsafe(32)
    )


def new_login_form(now: datetime, secret: bytes) -> tuple[str, str]:
    """A CSRF token for the login form and the signed cookie that vouches for it."""
    token = secrets.token_urlsafe(32)
    expires = int((now + LOGIN_FORM_TTL).timestamp())
    return token, seal({"c": token, "e": expires}, secret)


def login_form_ok(cookie: str | None, sent: str | None, now: datetime, secret: bytes) -> bool:
    """The form's token is the one our cookie vouches for, and the form is not stale."""
    payload = unseal(cookie, secret)
    if payload is None or not isinstance(payload.get("c"), str):
        return False
    expires = payload.get("e")
    if not isinstance(expires, int) or expires <= now.timestamp():
        return False
    return bool(sent) and hmac.compare_digest(str(payload["c"]).encode(), (sent or "").encode())


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


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())


def still_operator(session: Session, keys: KeyRing) -> bool:
    """The key that opened the session is still an operator key under the same name (removing
    a key, renaming it or making it a client key ends its sessions)."""
    return any(
        key.role is Role.OPERATOR
        and hmac.compare_digest(key.fingerprint, session.fingerprint)
        and key.caller().actor == session.actor
        for key in keys.keys
    )


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
