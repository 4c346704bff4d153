"""Mailers for notify.report.Mailer: SmtpMailer (aiosmtplib) and SinkMailer (the development sink).

The SMTP password never reaches a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import aiosmtplib

from orchestrator.notify.report import OutgoingEmail

__all__ = ["MailDeliveryError", "SinkMailer", "SmtpConfig", "SmtpMailer", "build_message"]

log = logging.getLogger(__name__)


class MailDeliveryError(Exception):
    """The SMTP server could not be reached or refused the message. Carries no credentials."""

    def __init__(self, reason: str, *, host: str, port: int, code: int | None = None) -> None:
        super().__init__(f"e-mail delivery via {host}:{port} failed: {reason}")
        self.reason = reason
        self.host = host
        self.port = port
        self.code = code  # the SMTP reply code, when the server answered


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str | None = None
    password: str = field(default="", repr=False)
    starttls: bool = True  # upgrade a plain connection (port 587)
    use_tls: bool = False  # TLS from the first byte (port 465)
    timeout_s: float = 30.0
    mail_from: str = "salesaga@localhost"


def build_message(email: OutgoingEmail, *, mail_from: str) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # An explicit domain: make_msgid() would otherwise resolve this host's FQDN, which can stall.
    domain = mail_from.rpartition("@")[2] or "localhost"
    # A notice sent twice (its sender died between the server's OK and the bookkeeping) keeps
    # one Message-ID, so mail clients show it once.
    message["Message-ID"] = (
        f"<{email.message_key}@{domain}>" if email.message_key else make_msgid(domain=domain)
    )
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    """Sends each e-mail over one short SMTP session; logs in only when a username is set."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: OutgoingEmail) -> None:
        """Deliver `message` or raise MailDeliveryError (the outbox retries)."""
        cfg = self._config
        try:
            await aiosmtplib.send(
                build_message(message, mail_from=cfg.mail_from),
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username or None,
                password=cfg.password if cfg.username else None,
                use_tls=cfg.use_tls,
                start_tls=cfg.starttls and not cfg.use_tls,
                timeout=cfg.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = MailDeliveryError(
                self._describe(exc), host=cfg.host, port=cfg.port, code=getattr(exc, "code", None)
            )
            log.warning("%s (to %s, subject %r)", error, message.to, message.subject)
            # `from None`: the library's exception stays out of tracebacks (redacted text only).
            raise error from None
        log.info("e-mail sent to %s via %s:%s: %s", message.to, cfg.host, cfg.port, message.subject)

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        if self._config.password:
            text = text.replace(self._config.password, "***")
        return text


class SinkMailer:
    """Development sink: keeps each e-mail in `.messages`; with a directory, also an `.eml` file."""

    def __init__(
        self, directory: Path | None = None, *, mail_from: str = "salesaga@localhost"
    ) -> None:
        self.directory = directory
        self.messages: list[OutgoingEmail] = []
        self._mail_from = mail_from
        self._lock = threading.Lock()

    async def send(self, message: OutgoingEmail) -> None:
        with self._lock:
            self.messages.append(message)
        if self.directory is None:
            return
        # Timestamp first so names sort by time; the random suffix keeps concurrent senders apart.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        data = build_message(message, mail_from=self._mail_from).as_bytes()
        await asyncio.to_thread(_write_atomically, path, data)
        log.info("e-mail to %s written to %s", message.to, path)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(data)
    partial.replace(path)  # readers never see a half-written .eml
