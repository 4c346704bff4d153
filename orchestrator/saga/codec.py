"""Step outputs and flow inputs ↔ JSON, by the type the flow declares (pydantic TypeAdapter).

pydantic is a data library, not a framework: it handles the dataclasses, Decimals, enums and tuples
of our value types both ways without a hand-written registry.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:  # building one costs milliseconds: once per type per process
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def to_json(kind: type[Any], value: object) -> Any:
    return _adapter(kind).dump_python(value, mode="json")


def from_json(kind: type[T], data: Any) -> T:
    value: T = _adapter(kind).validate_python(data)
    return value
