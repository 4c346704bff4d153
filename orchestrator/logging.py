"""structlog configuration: JSON lines (or console in dev) for our logs and the stdlib's, with
secrets redacted (by key name, and credentials inside text) before anything is written.

Context bound with structlog.contextvars (saga_id, flow, step, attempt, request_id: see
orchestrator/observability/logcontext.py) is merged into every line, stdlib `logging` calls too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from orchestrator.settings import Settings

SECRET_KEYS = re.compile(r"(api[_-]?key|password|secret|token|authorization)", re.IGNORECASE)
REDACTED = "[redacted]"
# user:password@ in a URL (broker and database URLs), and credentials in an Authorization header
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@", re.IGNORECASE)
_AUTH_VALUE = re.compile(r"(?P<head>\b(?:Zoho-oauthtoken|Bearer|Basic)\s+)\S+", re.IGNORECASE)
# the webhook receiver's secret: the last segment of /hooks/<backend>/<trigger>/<secret>
_HOOK_SECRET = re.compile(r"(?P<head>/hooks/[^/\s]+/[^/\s]+/)[^\s/?#\"']+")


def redact_text(text: str) -> str:
    text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    text = _HOOK_SECRET.sub(rf"\g<head>{REDACTED}", text)
    return _AUTH_VALUE.sub(rf"\g<head>{REDACTED}", text)


def redact_secrets(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if SECRET_KEYS.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


def configure_logging(settings: Settings) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # stdlib records (engine, outbox, uvicorn, celery) get the bound context and extras too
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                # last before rendering: covers extras, bound context and exception text alike
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
