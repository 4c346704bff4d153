"""The one way in for every entry point: validation, idempotency, dispatch (core.py)."""

from __future__ import annotations

from orchestrator.intake.core import (
    FlowUnavailable,
    Intake,
    InvalidInput,
    KeyReused,
    Parsed,
    Started,
)
from orchestrator.intake.validation import KEY_PATTERN, describe_validation, request_digest

__all__ = [
    "KEY_PATTERN",
    "FlowUnavailable",
    "Intake",
    "InvalidInput",
    "KeyReused",
    "Parsed",
    "Started",
    "describe_validation",
    "request_digest",
]
