"""Roles and callers: who sent a request (orchestrator/api/keys.py finds them by their key).

An operator key may do what a client key does. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.IntEnum):
    CLIENT = 1
    OPERATOR = 2


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    fingerprint: str  # first 8 hex of the key's SHA-256: tells keys apart, reveals nothing
    name: str  # the key's name (a key configured without one: its fingerprint)
    rate_limit_per_min: int | None = None  # None: the service's KEY_RATE_LIMIT_PER_MIN

    @property
    def actor(self) -> str:
        """Who did it, for logs and the event log: `operator:ops-alice`, `client:3fa2c1d9`."""
        return f"{self.role.name.lower()}:{self.name}"


def require(role: Role, needed: Role) -> None:
    if role < needed:
        raise AuthError(403, "This endpoint needs an operator API key.")
