"""The RPC CRM's validation, with Laravel's messages (wire.py point 2): a call's parameters are
checked field by field in the seed's order, and the first failure is the answer's `error`.

A field name is shown with its underscores as spaces ("The estimated end at field is
required."); a nested one keeps its path ("The products.0.amount must be greater than 0.").
`required` treats null, "" (or blanks), [] and {} as missing, as Laravel does; ids are integers
or digit strings, numbers JSON numbers or numeric strings, booleans true/false/1/0/"1"/"0".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import TypeVar

from orchestrator.backends.rpccrm.wire import OPPORTUNITY_DATE, TICKET_DATE

T = TypeVar("T")
N = TypeVar("N", int, float)
Rule = Callable[[object, str], T]
"""Checks one present value of the field named by its second argument; returns it typed."""

LARAVEL_FORMATS = {OPPORTUNITY_DATE: "d/m/y", TICKET_DATE: "Y-m-d"}
_DIGITS = {"%d": r"\d{2}", "%m": r"\d{2}", "%y": r"\d{2}", "%Y": r"\d{4}"}
_INTEGER = re.compile(r"^-?\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Refused(Exception):
    """A call the CRM refuses: `{"success": false, "response": {}, "error": message}` with
    HTTP `status` (200 for every business error) and extra `headers`."""

    def __init__(
        self, message: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.headers = message, status, dict(headers or {})


def shown(name: str) -> str:
    return name.replace("_", " ")


def invalid(name: str) -> Refused:
    """Laravel's `exists` / `in` failure: "The selected <field> is invalid."."""
    return Refused(f"The selected {shown(name)} is invalid.")


def blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


class Fields:
    """The parameters of one call (or of one nested object: `prefix` "products.0.")."""

    def __init__(self, params: Mapping[str, object], prefix: str = "") -> None:
        self.params, self.prefix = params, prefix

    def name(self, key: str) -> str:
        return self.prefix + key

    def given(self, key: str) -> bool:
        return not blank(self.params.get(key))

    def need(self, key: str, rule: Rule[T]) -> T:
        """The field is required: "The <field> field is required.", then `rule`."""
        if not self.given(key):
            raise Refused(f"The {shown(self.name(key))} field is required.")
        return rule(self.params[key], self.name(key))

    def opt(self, key: str, rule: Rule[T]) -> T | None:
        """The field may be missing (None); when given, `rule` holds."""
        return rule(self.params[key], self.name(key)) if self.given(key) else None


# --- rules ----------------------------------------------------------------------------------------


def integer(value: object, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value)
    raise Refused(f"The {shown(name)} must be an integer.")


def number(value: object, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = float(value)
    elif isinstance(value, str):
        try:
            found = float(value.strip())
        except ValueError:
            found = math.nan
    else:
        found = math.nan
    if not math.isfinite(found):
        raise Refused(f"The {shown(name)} must be a number.")
    return found


def text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise Refused(f"The {shown(name)} must be a string.")
    return value


def boolean(value: object, name: str) -> bool:
    if value in (True, False, 1, 0, "1", "0") and not isinstance(value, float):
        return bool(int(value)) if isinstance(value, str) else bool(value)
    raise Refused(f"The {shown(name)} field must be true or false.")


def email(value: object, name: str) -> str:
    found = text(value, name)
    if not _EMAIL.match(found):
        raise Refused(f"The {shown(name)} must be a valid email address.")
    return found


def array(value: object, name: str) -> list[object]:
    if not isinstance(value, list):
        raise Refused(f"The {shown(name)} must be an array.")
    return value


def id_list(value: object, name: str) -> list[int]:
    """An array of integer ids (a filter such as `stage`, or a product's `taxes`)."""
    return [integer(item, f"{name}.{index}") for index, item in enumerate(array(value, name))]


def mapping(value: object, name: str) -> dict[str, object]:
    """An object (Laravel calls both arrays): also "The <field> must be an array."."""
    if not isinstance(value, dict):
        raise Refused(f"The {shown(name)} must be an array.")
    return value


def one_of(options: Collection[str]) -> Rule[str]:
    def rule(value: object, name: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise invalid(name)
        return value

    return rule


def exists(known: Collection[int]) -> Rule[int]:
    """An integer id among `known` (Laravel's `exists`)."""

    def rule(value: object, name: str) -> int:
        ident = integer(value, name)
        if ident not in known:
            raise invalid(name)
        return ident

    return rule


def at_least(low: float, rule: Rule[N]) -> Rule[N]:
    def check(value: object, name: str) -> N:
        found = rule(value, name)
        if found < low:
            raise Refused(f"The {shown(name)} must be at least {low:g}.")
        return found

    return check


def greater_than(low: float, rule: Rule[N]) -> Rule[N]:
    def check(value: object, name: str) -> N:
        found = rule(value, name)
        if found <= low:
            raise Refused(f"The {shown(name)} must be greater than {low:g}.")
        return found

    return check


def between(low: float, high: float) -> Rule[float]:
    def check(value: object, name: str) -> float:
        found = number(value, name)
        if not low <= found <= high:
            raise Refused(f"The {shown(name)} must be between {low:g} and {high:g}.")
        return found

    return check


def date_format(fmt: str) -> Rule[date]:
    """A date in exactly `fmt` (wire.OPPORTUNITY_DATE or wire.TICKET_DATE): two-digit days and
    months, a real date; "The <field> does not match the format d/m/y."."""
    pattern = re.compile("^" + re.sub("%[dmyY]", lambda m: _DIGITS[m.group()], fmt) + "$")

    def rule(value: object, name: str) -> date:
        wrong = Refused(f"The {shown(name)} does not match the format {LARAVEL_FORMATS[fmt]}.")
        if not isinstance(value, str) or not pattern.match(value):
            raise wrong
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            raise wrong from None

    return rule


def profile_of(params: Mapping[str, object], profiles: Collection[int]) -> int:
    """The call's `profile_id`: required, an integer, one of the user's profiles."""
    return Fields(params).need("profile_id", exists(profiles))
