"""JSON from outside (request bodies, queue messages) parsed so that no input can make a handler
fail with a 500 or a consumer with a traceback.

`json.loads` alone lets three kinds of input through as the wrong exception, or not at all:
nesting deeper than the interpreter's recursion limit raises RecursionError (a 2 kB body of
`[` does it), an integer literal longer than 4,300 digits raises a ValueError from `int()`, and
`1e999` becomes `inf`, which no JSON column can store later. Here each is a ValueError with a
message fit for a 400, and a document nested deeper than MAX_DEPTH is refused before any
handler walks it recursively.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32  # a sale body is 3 deep; a CRM payload rarely more than 6


class NotJson(ValueError):
    """Not JSON at all (syntax, or not UTF-8): each caller keeps its own words for it."""


class Refused(ValueError):
    """JSON, but not taken; the message is a phrase to follow the thing's name ("body …")."""


def loads(raw: bytes | str) -> Any:
    """The parsed document; raises NotJson or Refused (both ValueError)."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except Refused:
        raise
    except RecursionError:
        raise Refused(f"is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as bad:
        raise NotJson(str(bad)) from None
    except UnicodeDecodeError:
        raise NotJson("not UTF-8") from None
    except ValueError:  # int() refusing a literal of more than 4,300 digits
        raise Refused("holds a number too long to read (over 4,300 digits)") from None
    if too_deep(value):
        raise Refused(f"is nested deeper than {MAX_DEPTH} levels")
    return value


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than `limit` (iteratively: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise Refused(f"holds a number out of range ({text[:20]})")
    return number


def _no_constant(text: str) -> float:
    raise Refused(f"holds {text}, which is not a JSON number")
