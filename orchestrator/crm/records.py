"""Role-shaped ports: what a backend can do with a record this service created.

A flow asks only for the roles its steps use: a backend that can delete offers `Deletable`, one
whose only undo is a cancel stage offers `Cancellable`, one that can do neither offers nothing,
and the flow's step says so (orchestrator/saga/definition.py `UndoKind`). Every backend that
creates records offers `MarkedRecords`, so a retry finds what an interrupted try made.

Pure Python: must not import httpx or any framework (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A record this service created in a CRM: its kind in the backend's words and its id."""

    kind: str  # e.g. "deal", "quote", "opportunity"
    id: str


@dataclass(frozen=True, slots=True)
class ScopedRef(RecordRef):
    """A record whose id alone does not address it: `scope` says where it lives (an OnAutomate
    pipeline id)."""

    scope: str = ""


class MarkedRecords(Protocol):
    async def find(self, kind: str, marker: str) -> RecordRef | None:
        """The record of `kind` stamped with `marker`, if an earlier try created it."""
        ...


class Deletable(Protocol):
    async def delete_if_present(self, record: RecordRef) -> None:
        """Delete the record; one that is already gone counts as deleted (confirmed by a read)."""
        ...


class Cancellable(Protocol):
    async def cancel(self, record: RecordRef) -> None:
        """Move the record to the stage that means cancelled (it stays in the CRM)."""
        ...


class RecordLinks(Protocol):
    def record_url(self, record: RecordRef) -> str | None:
        """A link to the record in the backend's UI, where it has one."""
        ...
