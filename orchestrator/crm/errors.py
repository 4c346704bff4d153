"""Errors every CRM adapter raises; the engine reads only these.

CrmError
├── TransientCrmError      retried with backoff: network, timeout, 5xx, INTERNAL_ERROR
│   ├── RateLimited        429; retry_after in seconds when the CRM sent Retry-After
│   └── OutcomeUnknown     the request was sent but no answer came: it may have been applied
└── PermanentCrmError      rollback at once: 4xx, INVALID_DATA, MANDATORY_NOT_FOUND, DUPLICATE_DATA
    ├── NotFound           a record the flow needs does not exist (unknown contact, product …)
    └── DuplicateRecord    the CRM refuses a second record of this kind (OnAutomate's one
                           opportunity per contact and pipeline)

Pure Python: must not import httpx or any framework.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base of every CRM failure; carries the CRM's own code and the HTTP status when known."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # the CRM's own code, e.g. "INVALID_DATA"
        self.status = status


class TransientCrmError(CrmError):
    """May succeed if tried again later: the engine retries it with backoff."""


class RateLimited(TransientCrmError):
    """HTTP 429; `retry_after` is the CRM's Retry-After in seconds, when it sent one."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code, status=429)
        self.retry_after = retry_after


class OutcomeUnknown(TransientCrmError):
    """The request went out and the answer was lost (read timeout, dropped connection).

    The CRM may still apply it after we gave up, so the retry waits long enough for a late
    write to land before it looks for the record by marker."""


class PermanentCrmError(CrmError):
    """Will fail the same way every time: the engine starts the rollback at once."""


class NotFound(PermanentCrmError):
    """A record the flow reads (contact, account, product) does not exist or is unusable."""


class DuplicateRecord(PermanentCrmError):
    """The CRM's duplicate rule refused the create: an equal record exists already (not ours:
    a retry looks for its own by marker before it creates)."""


def error_message(exc: Exception) -> str:
    text = exc.message if isinstance(exc, CrmError) else str(exc)
    return text or type(exc).__name__


def error_code(exc: Exception) -> str | None:
    return exc.code if isinstance(exc, CrmError) else type(exc).__name__


def retry_after(exc: Exception) -> float | None:
    return exc.retry_after if isinstance(exc, RateLimited) else None
