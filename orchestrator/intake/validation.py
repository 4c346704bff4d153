"""How a bad request is told: one message naming the first bad field, in the same words for
POST /createSales, POST /sagas, Celery messages and stream entries."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

_FRIENDLY = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be an array",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "greater_than": "must be a positive integer",
    "greater_than_equal": "must not be negative",
    "less_than_equal": "is too large",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "must contain only letters, digits, '-' and '_'",
    "extra_forbidden": "is not a field of this flow's input",
    "decimal_max_places": "has too many decimal places",
    "decimal_max_digits": "has too many digits",
}


def field_path(loc: tuple[int | str, ...], where: str = "") -> str:
    """`products[1].quantity`, prefixed with `where` (e.g. "input.")."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{where}{path}" if path else where.rstrip(".")


def describe_validation(exc: ValidationError, where: str = "") -> str:
    """One message naming the first bad field, e.g. `products[1].quantity must be ...`."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    path = field_path(loc, where)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("too_short", "too_long") and loc == ("products",):
        if kind == "too_short":
            return f"{path} must contain at least one product"
        return f"{path} must not contain more than {ctx.get('max_length')} lines"
    if kind == "too_long":
        return f"{path} must not contain more than {ctx.get('max_length')} items"
    if kind == "literal_error":
        return f"{path} must be one of: {ctx.get('expected', '').replace(chr(39), '')}"
    if kind == "value_error":  # a model rule: its message names the fields
        text = str(ctx.get("error", error["msg"]))
        return f"{where.rstrip('.') or 'body'} {text}" if not loc else f"{path} {text}"
    if kind == "string_pattern_mismatch" and "@" in str(ctx.get("pattern", "")):
        return f"{path} must be an e-mail address"
    text = _FRIENDLY.get(kind, error["msg"])
    return f"{path or 'body'} {text}"


def request_digest(model: BaseModel) -> str:
    """Same input, same digest, whatever the key order or spacing of the JSON sent."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
