"""Composition root: Settings → Deps (store, engine, CRM adapters, mailer, outbox). No globals.

Entry points (API, workers, CLI) call build_deps(); tests call it with their own settings. Every
backend in orchestrator/backends is opened when its settings are complete (or its sandbox when
CRM_SANDBOX is on), and each flow of orchestrator/flows is bound to its backend's adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.backends import BACKENDS
from orchestrator.backends.base import BackendSettings, CrmAdapter, CrmBackend, OpenContext
from orchestrator.crm.records import RecordRef
from orchestrator.flows import FLOWS, PLG_FLOW
from orchestrator.intake import Intake
from orchestrator.intake.core import Dispatch
from orchestrator.messaging.crm_events import SqlEventLookup
from orchestrator.messaging.intake import Inbox
from orchestrator.messaging.replies import Replies, open_replies
from orchestrator.notify.build import RecordUrl
from orchestrator.notify.mailer import SinkMailer, SmtpConfig, SmtpMailer
from orchestrator.notify.notices import Deliverer, FailureMail
from orchestrator.notify.outbox import MAIL_ATTEMPTS, Outbox
from orchestrator.notify.report import Mailer
from orchestrator.observability import ObservedStore, process_metrics
from orchestrator.saga.definition import Flow
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.state import FAILURE_NOTICE, REPLY_NOTICE, SagaState
from orchestrator.settings import Settings
from orchestrator.store.db import SqlCounts, make_engine
from orchestrator.store.migrate import require_head
from orchestrator.store.sql_store import SqlSagaStore
from orchestrator.store.token_cache import SqlTokenCache

log = logging.getLogger(__name__)


# Ask a worker to advance the saga (after a delay). Losing this message loses nothing:
# recovery finds the saga in the table.
Dispatcher = Dispatch


class BackendMisconfigured(Exception):
    """Some of a backend's settings are given but not all: the process must not start."""


@dataclass(frozen=True, slots=True)
class BackendPlan:
    """How this process uses one backend: `mode` crm (its settings) | sandbox | off."""

    backend: CrmBackend[Any]
    mode: str
    settings: BackendSettings | None


def plan_backends(settings: Settings) -> list[BackendPlan]:
    """Which backends to open and with what settings. Raises BackendMisconfigured naming the
    missing variables of a backend whose settings are partial."""
    plans = []
    for backend in BACKENDS:
        given = settings.crms.get(backend.name)
        own: BackendSettings = given if given is not None else backend.settings_type()
        missing = own.missing()
        if not missing:
            plans.append(BackendPlan(backend, "crm", own))
        elif own.touched():
            needs = ", ".join(own.env_name(name) for name in own.required)
            raise BackendMisconfigured(
                f"{backend.title}: {', '.join(missing)} not set (the {backend.name} backend "
                f"needs {needs}; set them all, or none to leave it off)"
            )
        elif settings.crm_sandbox:
            sandbox = backend.sandbox_settings(settings.sandbox_base + backend.sandbox_path)
            plans.append(BackendPlan(backend, "sandbox", own.pointed_at(sandbox)))
        else:
            plans.append(BackendPlan(backend, "off", None))
    return plans


@dataclass(slots=True)
class Deps:
    settings: Settings
    db: AsyncEngine
    store: SqlSagaStore
    engine: Engine
    crms: Mapping[str, CrmAdapter]  # open adapters by backend name
    mailer: Mailer
    outbox: Outbox
    replies: Replies
    flows: Mapping[str, Flow[Any, Any]] = field(default_factory=dict)  # the flows that can run
    sql: SqlCounts = field(default_factory=SqlCounts)  # what this process sent on `db`

    def adapter_for(self, flow_name: str) -> CrmAdapter | None:
        """The adapter of the flow's backend, None when that backend is off here."""
        flow = FLOWS.get(flow_name)
        return self.crms.get(flow.backend) if flow is not None else None

    def links(self, flow_name: str) -> RecordUrl | None:
        """How to link a record of this flow to its backend's UI (None: no links)."""
        return _Links(self.crms)(flow_name)

    def cancel_stage(self, flow_name: str) -> str | None:
        """Where this flow's cancel-stage undo moves a record (None: unknown or none)."""
        return _Links(self.crms).cancel_stage(flow_name)

    def intake(self, dispatch: Dispatcher) -> Intake:
        """The one way in: validation, idempotency and dispatch for every entry point."""
        adapters = {name: self.crms[flow.backend] for name, flow in self.flows.items()}
        return Intake(self.engine, self.store, self.flows, FLOWS, dispatch, adapters,
                      self.settings.max_crm_lookups)  # fmt: skip

    def inbox(self, dispatch: Dispatcher) -> Inbox:
        """Queue messages in: the intake plus dead letters and reply routes."""
        return Inbox(self.intake(dispatch), self.db, self.replies.kinds, PLG_FLOW)

    async def aclose(self) -> None:
        for adapter in self.crms.values():
            await adapter.aclose()
        await self.replies.aclose()
        await self.db.dispose()


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


async def open_backends(
    plans: list[BackendPlan], ctx: Callable[[str], OpenContext]
) -> dict[str, CrmAdapter]:
    adapters: dict[str, CrmAdapter] = {}
    for plan in plans:
        if plan.settings is not None:
            adapters[plan.backend.name] = await plan.backend.open(
                plan.settings, ctx(plan.backend.name)
            )
    return adapters


async def build_deps(settings: Settings, *, mailer: Mailer | None = None) -> Deps:
    plans = plan_backends(settings)
    db = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    await require_head(db, settings.database_url)  # `salesaga db upgrade` migrates, not this
    store = SqlSagaStore(db)
    metrics = process_metrics()
    metrics.prime(FLOWS.values())
    tokens = SqlTokenCache(db)
    events = SqlEventLookup(db)  # what CRMs pushed to us: finds what a lost answer created
    crms = await open_backends(
        plans, lambda name: OpenContext(tokens, metrics.crm_call_observer(name), events)
    )
    flows = {name: flow for name, flow in FLOWS.items() if flow.backend in crms}
    mailer = mailer if mailer is not None else build_mailer(settings)
    mail_retry = RetryPolicy(MAIL_ATTEMPTS, settings.mail_retry_base_s, settings.mail_retry_cap_s)
    links = _Links(crms)
    replies = open_replies(settings, FLOWS, links)
    deliverers: dict[str, Deliverer] = {
        FAILURE_NOTICE: FailureMail(mailer, settings.it_email, FLOWS, links),
        REPLY_NOTICE: replies,
    }
    outbox = Outbox(
        db, deliverers, retry=mail_retry,
        send_lease_s=3 * max(settings.smtp_timeout_s, settings.reply_timeout_s),
    )  # fmt: skip

    async def deliver_notice(saga: SagaState) -> None:
        await outbox.deliver_for(saga.id)

    read_timeout = max((p.settings.read_timeout_s for p in plans if p.settings), default=20.0)
    engine = Engine(
        ObservedStore(store, metrics),  # logs and counts every saga event the engine writes
        # Every flow, so sagas of a backend that is off here can still be read and resolved.
        {name: BoundFlow(flow, crms.get(flow.backend)) for name, flow in FLOWS.items()},
        retry=RetryPolicy(settings.step_max_attempts, settings.retry_base_s, settings.retry_cap_s),
        undo_retry=RetryPolicy(
            settings.compensation_max_attempts, settings.retry_base_s, settings.retry_cap_s
        ),
        lease_s=settings.lease_s,
        deadline_s=settings.saga_deadline_s,
        ambiguous_wait_s=settings.ambiguous_wait_s or 2 * read_timeout,
        idempotency_ttl_s=settings.idempotency_ttl_s,
        recover_hold_s=settings.recover_hold_s,
        on_finish=deliver_notice,
    )
    sql = SqlCounts.attach(db)
    return Deps(settings, db, store, engine, crms, mailer, outbox, replies, flows, sql)


@dataclass(frozen=True, slots=True)
class _Links:
    """Flow name → how to link its records to the backend's UI (notify.build.Links)."""

    crms: Mapping[str, CrmAdapter]

    def _adapter(self, flow_name: str) -> CrmAdapter | None:
        flow = FLOWS.get(flow_name)
        return self.crms.get(flow.backend) if flow is not None else None

    def cancel_stage(self, flow_name: str) -> str | None:
        stage = getattr(self._adapter(flow_name), "cancel_stage", None)
        return stage if isinstance(stage, str) else None

    def __call__(self, flow_name: str) -> RecordUrl | None:
        adapter = self._adapter(flow_name)
        if adapter is None:
            return None
        record_url = adapter.record_url

        def link(record: Any) -> str | None:
            return record_url(record) if isinstance(record, RecordRef) else None

        return link


def describe_target(settings: Settings) -> dict[str, Any]:
    """What this process talks to, without secrets (for start-up logs)."""
    return {
        "database": settings.database_url.split("://", 1)[0],
        "broker": settings.broker_url.split("://", 1)[0],
        "crms": {plan.backend.name: plan.mode for plan in plan_backends(settings)},
        "mail": settings.mail_backend,
    }
