"""Composition root: Settings → Deps (store, engine, CRM adapter, mailer, outbox). No globals.

Entry points (API, workers, CLI) call build_deps(); tests call it with their own settings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.crm.zoho.client import ZohoConfig, ZohoCrm, open_zoho_crm
from orchestrator.flows import FLOWS
from orchestrator.messaging.replies import Replies, open_replies
from orchestrator.notify.mailer import SinkMailer, SmtpConfig, SmtpMailer
from orchestrator.notify.notices import Deliverer, FailureMail
from orchestrator.notify.outbox import MAIL_ATTEMPTS, Outbox
from orchestrator.notify.report import Mailer
from orchestrator.observability import ObservedStore, process_metrics
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.state import FAILURE_NOTICE, REPLY_NOTICE, SagaState
from orchestrator.sandbox.zoho.data import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
)
from orchestrator.settings import Settings
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.sql_store import SqlSagaStore
from orchestrator.store.token_cache import SqlTokenCache


class Dispatcher(Protocol):
    def __call__(self, saga_id: uuid.UUID, delay_s: float = 0.0) -> None:
        """Ask a worker to advance the saga (after a delay). Losing this message loses nothing:
        recovery finds the saga in the table."""
        ...


@dataclass(slots=True)
class Deps:
    settings: Settings
    db: AsyncEngine
    store: SqlSagaStore
    engine: Engine
    crm: ZohoCrm
    mailer: Mailer
    outbox: Outbox
    replies: Replies

    async def aclose(self) -> None:
        await self.crm.aclose()
        await self.replies.aclose()
        await self.db.dispose()


def zoho_config(settings: Settings) -> ZohoConfig:
    """Real Zoho when credentials are set, else the built-in sandbox with its own credentials."""
    real = settings.zoho_configured
    default_url = settings.sandbox_url if not real else ""
    return ZohoConfig(
        accounts_url=settings.zoho_accounts_url or default_url or "https://accounts.zoho.com",
        api_domain=settings.zoho_api_domain or default_url or "https://www.zohoapis.com",
        api_version=settings.zoho_api_version,
        client_id=settings.zoho_client_id if real else SANDBOX_CLIENT_ID,
        client_secret=settings.zoho_client_secret.get_secret_value()
        if real
        else SANDBOX_CLIENT_SECRET,
        refresh_token=settings.zoho_refresh_token.get_secret_value()
        if real
        else SANDBOX_REFRESH_TOKEN,
        connect_timeout_s=settings.zoho_connect_timeout_s,
        read_timeout_s=settings.zoho_read_timeout_s,
        max_connections=settings.zoho_max_connections,
        deal_stage=settings.zoho_deal_stage,
        deal_pipeline=settings.zoho_deal_pipeline,
        closing_days=settings.zoho_closing_days,
    )


def build_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "sink":
        return SinkMailer(Path(settings.mail_sink_dir))
    return SmtpMailer(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            timeout_s=settings.smtp_timeout_s,
            mail_from=settings.mail_from,
        )
    )


async def build_deps(settings: Settings, *, mailer: Mailer | None = None) -> Deps:
    db = make_engine(settings.database_url)
    await create_schema(db)
    store = SqlSagaStore(db)
    metrics = process_metrics()
    metrics.prime(FLOWS.values())
    crm = await open_zoho_crm(
        zoho_config(settings), SqlTokenCache(db), on_call=metrics.crm_call_observer("zoho")
    )
    mailer = mailer if mailer is not None else build_mailer(settings)
    mail_retry = RetryPolicy(MAIL_ATTEMPTS, settings.mail_retry_base_s, settings.mail_retry_cap_s)
    replies = open_replies(settings, FLOWS, crm.record_url)
    deliverers: dict[str, Deliverer] = {
        FAILURE_NOTICE: FailureMail(mailer, settings.it_email, FLOWS, crm.record_url),
        REPLY_NOTICE: replies,
    }
    outbox = Outbox(
        db, deliverers, retry=mail_retry,
        send_lease_s=3 * max(settings.smtp_timeout_s, settings.reply_timeout_s),
    )  # fmt: skip

    async def deliver_notice(saga: SagaState) -> None:
        await outbox.deliver_for(saga.id)

    engine = Engine(
        ObservedStore(store, metrics),  # logs and counts every saga event the engine writes
        {name: BoundFlow(flow, crm) for name, flow in FLOWS.items()},
        retry=RetryPolicy(settings.step_max_attempts, settings.retry_base_s, settings.retry_cap_s),
        undo_retry=RetryPolicy(
            settings.compensation_max_attempts, settings.retry_base_s, settings.retry_cap_s
        ),
        lease_s=settings.lease_s,
        deadline_s=settings.saga_deadline_s,
        ambiguous_wait_s=settings.ambiguous_wait_s or 2 * settings.zoho_read_timeout_s,
        idempotency_ttl_s=settings.idempotency_ttl_s,
        recover_hold_s=settings.recover_hold_s,
        on_finish=deliver_notice,
    )
    return Deps(settings, db, store, engine, crm, mailer, outbox, replies)


def describe_target(settings: Settings) -> dict[str, Any]:
    """What this process talks to, without secrets (for start-up logs)."""
    return {
        "database": settings.database_url.split("://", 1)[0],
        "broker": settings.broker_url.split("://", 1)[0],
        "crm": "zoho" if settings.zoho_configured else "zoho-sandbox",
        "mail": settings.mail_backend,
    }
