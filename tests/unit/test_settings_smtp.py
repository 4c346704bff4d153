"""Issue 22 finding 7: an SMTP login without TLS is refused at start unless explicitly allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.settings import Settings


@pytest.fixture(autouse=True)
def no_smtp_environment(monkeypatch) -> None:
    for name in (
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_STARTTLS",
        "SMTP_USE_TLS",
        "SMTP_ALLOW_PLAINTEXT_LOGIN",
        "MAIL_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_login_without_tls_is_refused_naming_the_settings() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(smtp_username="mailer", smtp_password="s3cret-pass")
    message = str(refused.value)
    for name in ("SMTP_USERNAME", "SMTP_STARTTLS", "SMTP_USE_TLS", "SMTP_ALLOW_PLAINTEXT_LOGIN"):
        assert name in message
    assert "s3cret-pass" not in message


def test_the_refusal_holds_when_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "mailer")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pass")
    with pytest.raises(ValidationError, match="SMTP_ALLOW_PLAINTEXT_LOGIN"):
        Settings()
    monkeypatch.setenv("SMTP_ALLOW_PLAINTEXT_LOGIN", "true")
    assert Settings().smtp_allow_plaintext_login is True


@pytest.mark.parametrize(
    "tls", [{"smtp_starttls": True}, {"smtp_use_tls": True}, {"smtp_allow_plaintext_login": True}]
)
def test_a_login_over_tls_or_explicitly_allowed_in_clear_is_accepted(tls) -> None:
    settings = Settings(smtp_username="mailer", smtp_password="s3cret-pass", **tls)
    assert settings.smtp_username == "mailer"


def test_no_login_or_no_smtp_needs_no_tls() -> None:
    assert Settings().smtp_allow_plaintext_login is False  # fail closed by default
    assert not Settings(smtp_host="relay.internal").smtp_username
    assert Settings(mail_backend="sink", smtp_username="mailer").mail_backend == "sink"
