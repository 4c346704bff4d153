"""SmtpMailer against a real aiosmtpd server, and SinkMailer's .eml files."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import traceback
from email.message import EmailMessage
from pathlib import Path

import pytest

from orchestrator.notify.mailer import MailDeliveryError, SinkMailer, SmtpConfig, SmtpMailer
from orchestrator.notify.report import OutgoingEmail
from tests.smtp_server import running_smtp

SENDER = "salesaga@plg.example"
IT = "it@poligonmuhendislik.com"
USER, PASSWORD = "salesaga-bot", "pa55-Zq9!word"


def outgoing(subject: str = "[salesaga] Sale failed: Mühendislik (saga s-1)") -> OutgoingEmail:
    return OutgoingEmail(
        to=IT,
        subject=subject,
        text="Deal ID: D-1 rolled back\nQuote ID: Q-2 left over\n",
        html="<p>Deal ID: <b>D-1</b> rolled back</p><p>Quote ID: <b>Q-2</b> left over</p>",
    )


def config(port: int, username: str | None = None, password: str = "") -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        username=username,
        password=password,
        starttls=False,
        timeout_s=5.0,
        mail_from=SENDER,
    )


def parts(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


def assert_is_the_email(message: EmailMessage, sent: OutgoingEmail) -> None:
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == sent.to
    assert message["From"] == SENDER
    assert message["Subject"] == sent.subject
    assert message["Date"] is not None
    assert message["Message-ID"] is not None
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert body["text/plain"].strip() == sent.text.strip()
    assert body["text/html"].strip() == sent.html.strip()


def read_eml_files(directory: Path) -> dict[str, EmailMessage]:
    """Every `.eml` in `directory`, parsed, by file name; fails on a half-written `.partial`."""
    assert not list(directory.glob("*.partial"))
    found = {}
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found[path.name] = message
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_smtp_mailer_delivers_a_multipart_message() -> None:
    sent = outgoing()
    with running_smtp() as smtp:
        await SmtpMailer(config(smtp.port)).send(sent)
        [received] = smtp.wait_for(1)
        [envelope] = smtp.envelopes

    assert_is_the_email(received, sent)
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == (IT,)
    assert envelope.login is None


async def test_smtp_mailer_logs_in_when_a_username_is_set() -> None:
    sent = outgoing()
    with running_smtp(auth=(USER, PASSWORD)) as smtp:
        await SmtpMailer(config(smtp.port, username=USER, password=PASSWORD)).send(sent)
        [received] = smtp.wait_for(1)
        [envelope] = smtp.envelopes

    assert_is_the_email(received, sent)
    assert envelope.login == USER


async def test_server_requiring_auth_refuses_a_mailer_without_username() -> None:
    with running_smtp(auth=(USER, PASSWORD)) as smtp:
        with pytest.raises(MailDeliveryError) as caught:
            await SmtpMailer(config(smtp.port)).send(outgoing())
        assert smtp.messages == []

    assert caught.value.code == 530


async def test_wrong_password_raises_without_leaking_it(caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wr0ng-Secret-471"
    caplog.set_level(logging.DEBUG)
    with running_smtp(auth=(USER, PASSWORD)) as smtp:
        mailer = SmtpMailer(config(smtp.port, username=USER, password=wrong))
        with pytest.raises(MailDeliveryError) as caught:
            await mailer.send(outgoing())
        assert smtp.messages == []

    error = caught.value
    assert error.code == 535
    assert "SMTPAuthenticationError" in str(error)
    shown = "".join(traceback.format_exception(error)) + repr(error) + caplog.text
    assert wrong not in shown
    assert wrong not in repr(mailer._config)
    assert any(record.levelno == logging.WARNING for record in caplog.records)


async def test_server_down_raises_mail_delivery_error() -> None:
    port = free_port()  # nothing listens here
    with pytest.raises(MailDeliveryError) as caught:
        await SmtpMailer(config(port, username=USER, password=PASSWORD)).send(outgoing())

    assert caught.value.port == port
    assert PASSWORD not in str(caught.value)


async def test_sink_mailer_writes_a_readable_eml(tmp_path: Path) -> None:
    sink = SinkMailer(tmp_path / "outbox", mail_from=SENDER)
    sent = outgoing()
    await sink.send(sent)

    assert sink.messages == [sent]
    [message] = read_eml_files(tmp_path / "outbox").values()
    assert_is_the_email(message, sent)


async def test_sink_mailer_keeps_concurrent_messages_apart(tmp_path: Path) -> None:
    sink = SinkMailer(tmp_path)
    sent = [outgoing(subject=f"failure {n}") for n in range(20)]
    await asyncio.gather(*(sink.send(message) for message in sent))

    assert sorted(m.subject for m in sink.messages) == sorted(m.subject for m in sent)
    files = read_eml_files(tmp_path)
    assert len(files) == 20
    assert {m["Subject"] for m in files.values()} == {m.subject for m in sent}


async def test_sink_mailer_without_directory_keeps_messages_in_memory() -> None:
    sink = SinkMailer(None)
    await sink.send(outgoing())

    assert [m.to for m in sink.messages] == [IT]


async def test_test_server_wait_for_times_out_and_waits_without_blocking_the_loop() -> None:
    with running_smtp() as smtp:
        with pytest.raises(TimeoutError):
            smtp.wait_for(1, timeout=0.2)
        waiting = asyncio.create_task(smtp.wait_for_async(2, timeout=5.0))
        mailer = SmtpMailer(config(smtp.port))
        await mailer.send(outgoing(subject="one"))
        await mailer.send(outgoing(subject="two"))
        received = await waiting

    assert [m["Subject"] for m in received] == ["one", "two"]
