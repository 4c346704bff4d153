"""A real SMTP server for tests: aiosmtpd on a free 127.0.0.1 port, collecting parsed messages.

with running_smtp(auth=("it-bot", "secret")) as smtp:
    ...  # send to smtp.host:smtp.port
    [message] = smtp.wait_for(1)
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
_START_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the SMTP transaction said, beside the message headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None  # the authenticated user, None without AUTH


class SmtpServer:
    """Collects every message the server accepts; safe to read from any thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._messages: list[EmailMessage] = []
        self._envelopes: list[Envelope] = []
        self._changed = threading.Condition()

    @property
    def messages(self) -> list[EmailMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        """Forget what was received (between tests sharing one server)."""
        with self._changed:
            self._messages.clear()
            self._envelopes.clear()

    @property
    def envelopes(self) -> list[Envelope]:
        """The SMTP envelopes, in the same order as `messages`."""
        with self._changed:
            return list(self._envelopes)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least `n` messages arrived; return them all. Raises TimeoutError.

        Blocks the calling thread: from async code whose own loop sends the mail, use
        `await smtp.wait_for_async(n)` instead.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {n} message(s) within {timeout}s, got {len(self._messages)}"
                    )
                self._changed.wait(remaining)
            return list(self._messages)

    # A parameter, not asyncio.timeout(): cancelling to_thread would leave the thread waiting.
    async def wait_for_async(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:  # noqa: ASYNC109
        """`wait_for` without blocking the running event loop."""
        return await asyncio.to_thread(self.wait_for, n, timeout)

    def _record(self, message: EmailMessage, envelope: Envelope) -> None:
        with self._changed:
            self._messages.append(message)
            self._envelopes.append(envelope)
            self._changed.notify_all()


class _Handler:
    def __init__(self, server: SmtpServer, *, auth_required: bool) -> None:
        self._server = server
        self._auth_required = auth_required

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns on every
        # plain-text connection (and would fail a suite run with filterwarnings=error).
        if self._auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        # SMTP carries CRLF; store LF line ends as a mailbox would, so bodies compare as written.
        raw = raw.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        self._server._record(message, Envelope(envelope.mail_from, tuple(envelope.rcpt_tos), login))
        return "250 Message accepted for delivery"


def _authenticator(user: str, password: str) -> Any:
    expected = LoginPassword(user.encode(), password.encode())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword) and data == expected:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd answers 535

    return authenticate


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _start(handler_for: SmtpServer, auth: tuple[str, str] | None) -> Controller:
    options: dict[str, Any] = {"server_hostname": "smtp.test", "ready_timeout": 5.0}
    if auth is not None:
        # Plain connections in tests, so AUTH must be offered without TLS.
        options |= {"authenticator": _authenticator(*auth), "auth_require_tls": False}
    handler = _Handler(handler_for, auth_required=auth is not None)
    controller = Controller(handler, hostname=HOST, port=handler_for.port, **options)
    try:
        controller.start()
    except BaseException:
        controller.stop(no_assert=True)
        if not controller.loop.is_closed():
            controller.loop.close()
        raise
    return controller


@contextmanager
def running_smtp(
    auth: tuple[str, str] | None = None, *, port: int | None = None
) -> Iterator[SmtpServer]:
    """Run an SMTP server for the `with` block. With `auth`, MAIL needs AUTH LOGIN/PLAIN as them.
    `port` pins the port (a server brought back where the service expects it)."""
    # The probed port can be taken before aiosmtpd binds it; try a few fresh ones.
    for attempt in range(_START_ATTEMPTS):
        server = SmtpServer(HOST, port or _free_port())
        try:
            controller = _start(server, auth)
            break
        except OSError:
            if attempt == _START_ATTEMPTS - 1:
                raise
    try:
        yield server
    finally:
        controller.stop()
