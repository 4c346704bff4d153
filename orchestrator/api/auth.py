"""API keys: `x-api-key` checked against API_KEYS (clients) and OPERATOR_API_KEYS (operators).

An operator key may do what a client key does. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr


class Role(enum.IntEnum):
    CLIENT = 1
    OPERATOR = 2


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _matches(key: str, keys: Iterable[SecretStr]) -> bool:
    found = False
    for candidate in keys:  # no early exit: timing does not tell which key matched
        found |= hmac.compare_digest(key.encode(), candidate.get_secret_value().encode())
    return found


def role_of(
    key: str | None, *, clients: Iterable[SecretStr], operators: Iterable[SecretStr]
) -> Role:
    if not key:
        raise AuthError(401, "Missing API key: send it in the x-api-key header.")
    if _matches(key, operators):
        return Role.OPERATOR
    if _matches(key, clients):
        return Role.CLIENT
    raise AuthError(401, "Invalid API key.")


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    fingerprint: str  # first 8 hex of the key's SHA-256: tells keys apart in logs, reveals nothing

    @property
    def actor(self) -> str:
        """Who did it, for the event log: `operator:3fa2c1d9`."""
        return f"{self.role.name.lower()}:{self.fingerprint}"


def identify(
    key: str | None, *, clients: Iterable[SecretStr], operators: Iterable[SecretStr]
) -> Caller:
    role = role_of(key, clients=clients, operators=operators)
    return Caller(role, hashlib.sha256((key or "").encode()).hexdigest()[:8])


def require(role: Role, needed: Role) -> None:
    if role < needed:
        raise AuthError(403, "This endpoint needs an operator API key.")
