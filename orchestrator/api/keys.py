"""The service's API keys: each with a name and a role, held only as SHA-256 digests.

Two sources, used together:
- API_KEYS (clients) and OPERATOR_API_KEYS (operators): comma-separated `name:key` entries (a
  bare `key` is named by its fingerprint, the first 8 hex of its SHA-256);
- API_KEYS_FILE: a TOML file of `[[key]]` tables with `name`, `role` (client|operator),
  `sha256` (the key's digest in hex: `salesaga keys new` makes a key and prints its entry) and
  optionally `rate_limit_per_min`. The file holds no key, only digests.

A key shorter than MIN_KEY_CHARS is refused at start (the file cannot be checked: it holds
digests; `salesaga keys new` makes 32-byte keys). Logs and the event log name a key by its name,
never by its value. SHA-256 (not a slow password hash) is right here: API keys are long and
random, so there is nothing to guess from a digest, and every request checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from orchestrator.api.auth import AuthError, Caller, Role

MIN_KEY_CHARS: Final = 20
# The development keys of `salesaga dev`, published in the README: taken there only, refused
# everywhere else (a deployment copying them from the README fails to start, not open).
DEV_CLIENT_KEY: Final = "dev-client-key"
DEV_OPERATOR_KEY: Final = "dev-operator-key"
NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")


class KeyConfigError(ValueError):
    """The configured keys cannot be used; the message names the entry, never a key."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    role: Role
    digest: bytes  # SHA-256 of the key
    rate_limit_per_min: int | None = None  # None: the service's KEY_RATE_LIMIT_PER_MIN

    @property
    def fingerprint(self) -> str:
        return self.digest.hex()[:8]

    def caller(self) -> Caller:
        return Caller(self.role, self.fingerprint, self.name, self.rate_limit_per_min)


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> str:
    """A new random key (32 bytes, URL-safe base64: 43 characters)."""
    return secrets.token_urlsafe(32)


class KeyRing:
    """Every key the service takes; looks one up in constant time over all of them."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        digests = [key.digest for key in keys]
        if len(set(digests)) != len(digests):
            raise KeyConfigError("one key is configured twice (under two names or roles)")
        names = [key.name for key in keys]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise KeyConfigError(f"API key names must be unique: {', '.join(twice)} is used twice")
        self.keys = tuple(keys)

    def identify(self, presented: str | None) -> Caller:
        if not presented:
            raise AuthError(401, "Missing API key: send it in the x-api-key header.")
        digest, found = digest_of(presented), None
        for key in self.keys:  # no early exit: timing does not tell which key matched
            if hmac.compare_digest(digest, key.digest):
                found = key
        if found is None:
            raise AuthError(401, "Invalid API key.")
        return found.caller()


def key_ring(
    clients: Iterable[SecretStr],
    operators: Iterable[SecretStr],
    keys_file: str = "",
    *,
    dev: bool = False,
) -> KeyRing:
    """The keys of API_KEYS, OPERATOR_API_KEYS and API_KEYS_FILE (`dev`: `salesaga dev`, where
    the README's development keys are allowed). Raises KeyConfigError."""
    keys = [*_from_env(clients, Role.CLIENT, "API_KEYS", dev),
            *_from_env(operators, Role.OPERATOR, "OPERATOR_API_KEYS", dev)]  # fmt: skip
    if keys_file:
        keys.extend(load_keys_file(Path(keys_file)))
    return KeyRing(keys)


def _from_env(entries: Iterable[SecretStr], role: Role, setting: str, dev: bool) -> list[ApiKey]:
    keys = []
    for position, entry in enumerate(entries, start=1):
        name, key = _split(entry.get_secret_value())
        where = f"{setting} entry {position}" + (f" ({name})" if name else "")
        if name is not None and not NAME.match(name):
            raise KeyConfigError(f"{where}: a name is 1 to 40 of A-Z a-z 0-9 _ . -")
        public = key in (DEV_CLIENT_KEY, DEV_OPERATOR_KEY)
        if public and not dev:
            raise KeyConfigError(f"{where}: that is the README's public development key, taken"
                                 " by `salesaga dev` only")  # fmt: skip
        if len(key) < MIN_KEY_CHARS and not public:
            raise KeyConfigError(f"{where}: the key is shorter than {MIN_KEY_CHARS} characters"
                                 " (`salesaga keys new` makes one)")  # fmt: skip
        digest = digest_of(key)
        keys.append(ApiKey(name or digest.hex()[:8], role, digest))
    return keys


def _split(entry: str) -> tuple[str | None, str]:
    """`name:key`, or a bare key (which may hold ':' itself when what precedes is no name)."""
    name, colon, key = entry.partition(":")
    if colon and NAME.match(name) and key:
        return name, key
    return None, entry


def load_keys_file(path: Path) -> list[ApiKey]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise KeyConfigError(f"API_KEYS_FILE {path}: cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KeyConfigError(f"API_KEYS_FILE {path}: not valid TOML ({exc})") from None
    entries = data.get("key", [])
    if not isinstance(entries, list):
        raise KeyConfigError(f"API_KEYS_FILE {path}: `key` must be an array of tables [[key]]")
    return [_file_entry(entry, f"API_KEYS_FILE {path} key {n}") for n, entry in
            enumerate(entries, start=1)]  # fmt: skip


def _file_entry(entry: object, where: str) -> ApiKey:
    if not isinstance(entry, dict):
        raise KeyConfigError(f"{where}: must be a table")
    name, role, digest = entry.get("name"), entry.get("role"), entry.get("sha256")
    limit = entry.get("rate_limit_per_min")
    if not isinstance(name, str) or not NAME.match(name):
        raise KeyConfigError(f"{where}: name must be 1 to 40 of A-Z a-z 0-9 _ . -")
    if role not in ("client", "operator"):
        raise KeyConfigError(f"{where} ({name}): role must be client or operator")
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise KeyConfigError(f"{where} ({name}): sha256 must be 64 lowercase hex digits")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise KeyConfigError(f"{where} ({name}): rate_limit_per_min must be a whole number > 0")
    return ApiKey(name, Role[role.upper()], bytes.fromhex(digest), limit)


def file_entry(name: str, role: Role, key: str) -> str:
    """The API_KEYS_FILE entry of a key (its digest only)."""
    return (f'[[key]]\nname = "{name}"\nrole = "{role.name.lower()}"\n'
            f'sha256 = "{digest_of(key).hex()}"\n')  # fmt: skip
