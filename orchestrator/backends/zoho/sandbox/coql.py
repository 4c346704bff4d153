"""The sandbox's COQL subset: `select F[, F…] from M where F = '<v>' [and F = '<v>'] [limit N]`.

Parsing and matching only; the route is in app.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.backends.zoho.sandbox.data import Record


def comparable(value: object) -> str:
    """A field value as search and COQL compare it: lookups by id, text without case."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).casefold()


# Assumed shapes (shared/reference/zoho-crm.md names COQL only as the read-after-write way):
# SYNTAX_ERROR with empty details, INVALID_QUERY for an unknown module, text `=` compared
# case-insensitively like search, default limit 200 and at most 2000 (Zoho's documented limits).
SYNTAX_ERROR = {"code": "SYNTAX_ERROR", "details": {},  # Zoho's spelling, below
                "message": "error occured while parsing the query", "status": "error"}  # fmt: skip
INVALID_JSON = {"code": "INVALID_DATA", "details": {}, "message": "the input json is invalid",
                "status": "error"}  # fmt: skip
COQL_MAX_LIMIT, COQL_DEFAULT_LIMIT = 2000, 200
_NAME = r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)?"
_QUOTED = r"(?:\\.|[^'\\])*"


def _condition(n: int) -> str:
    return rf"(?P<field{n}>{_NAME})\s*=\s*'(?P<value{n}>{_QUOTED})'"


_SELECT = re.compile(
    rf"\s*select\s+(?P<fields>{_NAME}(?:\s*,\s*{_NAME})*)\s+from\s+(?P<module>{_NAME})"
    rf"\s+where\s+{_condition(1)}(?:\s+and\s+{_condition(2)})?"
    r"(?:\s+limit\s+(?P<limit>[0-9]+))?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Coql:
    """The supported subset of one COQL select."""

    fields: tuple[str, ...]
    module: str
    equals: tuple[tuple[str, str], ...]  # (field, unescaped value), all must hold
    limit: int


class CoqlError(ValueError):
    """A query outside the subset; `body` is Zoho's top-level error envelope for it."""

    def __init__(self, body: Record) -> None:
        super().__init__(body["message"])
        self.body = body


def parse_coql(body: bytes) -> Coql:
    """`{"select_query": "select … from … where F = '…' [and F = '…'] [limit N]"}`."""
    try:
        text = json.loads(body).get("select_query")
    except (ValueError, AttributeError):
        raise CoqlError(INVALID_JSON) from None
    match = _SELECT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise CoqlError(SYNTAX_ERROR)
    limit = int(match["limit"] or COQL_DEFAULT_LIMIT)
    if not 1 <= limit <= COQL_MAX_LIMIT:
        raise CoqlError(SYNTAX_ERROR)
    equals = tuple(
        (match[f"field{n}"], re.sub(r"\\(.)", r"\1", match[f"value{n}"]))
        for n in (1, 2)
        if match[f"field{n}"] is not None
    )
    fields = tuple(name.strip() for name in match["fields"].split(","))
    return Coql(fields=fields, module=match["module"], equals=equals, limit=limit)


def field_of(record: Record, path: str) -> object:
    """`Field` or `Lookup.key` of a record."""
    head, _, key = path.partition(".")
    value = record.get(head)
    if not key:
        return value
    return value.get(key) if isinstance(value, dict) else None


def coql_filter(equals: tuple[tuple[str, str], ...]) -> Callable[[Record], bool]:
    wanted = [(field, value.casefold()) for field, value in equals]
    return lambda record: all(comparable(field_of(record, f)) == v for f, v in wanted)
