"""The saga engine: start a saga, and advance it one persisted move at a time.

Every move is claimed in the state table (compare-and-set on the saga's version, with a lease)
before any CRM call and recorded after it, so a crash at any point is recovered from the table
alone. What each outcome does to the rows is saga.outcomes (pure); this module does the I/O:
claims, CRM calls through the flow's steps, commits. Must not import celery, httpx, sqlmodel or
fastapi: it talks to ports.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.crm.errors import CrmError
from orchestrator.saga import outcomes
from orchestrator.saga.actions import Action, ActionRefused, plan
from orchestrator.saga.carry import CARRY as _CARRY
from orchestrator.saga.carry import Carried
from orchestrator.saga.codec import from_json, to_json
from orchestrator.saga.definition import Flow, Step, StepContext
from orchestrator.saga.errors import BackendOff, FlowNotFound, SagaNotFound
from orchestrator.saga.outcomes import seconds as _seconds
from orchestrator.saga.policy import DEFAULT_RETRY, DEFAULT_UNDO_RETRY, RetryPolicy
from orchestrator.saga.ports import Clock, SagaStore, StoreUnavailable, utc_now
from orchestrator.saga.shape import check_steps, undo_specs
from orchestrator.saga.state import (
    Change,
    Done,
    Event,
    Finish,
    GiveUp,
    Move,
    RunStep,
    SagaState,
    SagaStatus,
    StepState,
    StepStatus,
    UndoStep,
    WaitUntil,
    finish_notices,
    next_move,
    wake_at,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoundFlow:
    """A flow together with the adapter its steps talk to (None: its backend is off here)."""

    flow: Flow[Any, Any]
    deps: Any


@dataclass(frozen=True, slots=True)
class Wakeup:
    """Advance the saga again after this many seconds."""

    after_s: float


@dataclass(slots=True)
class Engine:
    store: SagaStore
    flows: Mapping[str, BoundFlow]
    clock: Clock = utc_now
    retry: RetryPolicy = DEFAULT_RETRY
    undo_retry: RetryPolicy = DEFAULT_UNDO_RETRY
    lease_s: float = 120.0
    deadline_s: float | None = 600.0  # a flow's own deadline_s wins
    ambiguous_wait_s: float = 0.0  # least wait after OutcomeUnknown: let a late write land
    store_retry_s: float = 30.0  # how long a worker keeps an outcome while the store is down
    idempotency_ttl_s: float = 86_400.0
    recover_hold_s: float = 60.0
    on_finish: Callable[[SagaState], Awaitable[None]] | None = None
    holder: str | None = None  # this worker's id, written on every claim (worker liveness)
    stopping: Callable[[], bool] = lambda: False  # True: hand the saga on after this move

    async def start(
        self,
        flow_name: str,
        payload: object,
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        subject: str | None = None,
        actor: str = "api",
        message_id: str | None = None,
        reply_to: str | None = None,
    ) -> SagaState:
        """Persist a new pending saga. The caller then dispatches `advance` for it.
        `reply_to`: a route the result is sent to when the saga ends (REPLY_NOTICE)."""
        flow = self._bound(flow_name).flow
        now = self.clock()
        deadline_s = flow.deadline_s if flow.deadline_s is not None else self.deadline_s
        saga = SagaState(
            id=uuid.uuid4(),
            flow=flow.name,
            input=to_json(flow.input_type, payload),
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            subject=subject,
            message_id=message_id,
            reply_to=reply_to,
            created_at=now,
            updated_at=now,
            wake_at=now,
            deadline_at=now + _seconds(deadline_s) if deadline_s is not None else None,
            steps=[StepState(index=i, name=step.name) for i, step in enumerate(flow.steps)],
        )
        expiry = now - _seconds(self.idempotency_ttl_s)
        await self.store.create(saga, Event("saga.created", actor=actor), keys_expire_before=expiry)
        return saga

    async def advance(self, saga_id: uuid.UUID) -> Wakeup | None:
        """Make every move that is due now; return when the saga next needs a worker.

        None means: terminal, or another worker holds the saga (its lease will tell recovery).
        Once `stopping()` says so, returns after the move in hand with a wake-up of 0 s.
        """
        saga = await self.store.load(saga_id)
        if saga is None:
            raise SagaNotFound(str(saga_id))
        bound = self._bound(saga.flow)
        if bound.deps is None:
            raise BackendOff(saga.flow, bound.flow.backend)
        check_steps(saga, bound.flow)
        token = _CARRY.set(Carried(saga.id))
        try:
            wakeup = await self._moves(saga, bound)
            # a success still carried (nothing came after it) is written now, alone
            return wakeup if await self._commit_carried(saga) else None
        finally:
            _CARRY.reset(token)

    async def _moves(self, saga: SagaState, bound: BoundFlow) -> Wakeup | None:
        while True:
            move = next_move(saga, undo_specs(bound.flow), self.clock())
            if isinstance(move, Done):
                return None
            if isinstance(move, WaitUntil):
                return None if move.held else Wakeup(self._seconds_until(move.at))
            if not await self._perform(saga, bound, move):
                return None  # lost the compare-and-set: someone else moved this saga
            if self.stopping():
                return Wakeup(0.0)  # this worker is shutting down: another one goes on

    async def act(
        self, saga_id: uuid.UUID, action: Action, *, actor: str, comment: str | None = None
    ) -> SagaState:
        """An operator's retry, compensate or resolve, recorded with who did it. The caller then
        dispatches `advance`. Raises SagaNotFound, ActionRefused (with the reason)."""
        saga = await self.store.load(saga_id)
        if saga is None:
            raise SagaNotFound(str(saga_id))
        bound = self._bound(saga.flow)
        if bound.deps is None and action is not Action.RESOLVE:  # resolving needs no CRM
            raise ActionRefused(str(BackendOff(saga.flow, bound.flow.backend)))
        flow, now = bound.flow, self.clock()
        touched = plan(action, saga, flow, now, comment)
        if action is Action.RETRY:
            deadline_s = flow.deadline_s if flow.deadline_s is not None else self.deadline_s
            saga.deadline_at = now + _seconds(deadline_s) if deadline_s is not None else None
        detail = {"comment": comment} if comment else {}
        if not await self._commit(
            saga, touched, Event(f"operator.{action}", None, None, detail, actor)
        ):
            raise ActionRefused("the saga changed meanwhile; look again and retry the action")
        return saga

    async def claim_due(self, limit: int = 500) -> Sequence[uuid.UUID]:
        """Sagas a worker should look at now; each is held back from the next sweep for a while."""
        now = self.clock()
        return await self.store.claim_due(now, limit, now + _seconds(self.recover_hold_s))

    # --- moves ---------------------------------------------------------------------------------

    async def _perform(self, saga: SagaState, bound: BoundFlow, move: Move) -> bool:
        if isinstance(move, RunStep):
            return await self._run(saga, bound, move.index)
        if isinstance(move, UndoStep):
            return await self._undo(saga, bound, move.index)
        if isinstance(move, GiveUp):
            return await self._give_up(saga, bound.flow.steps[move.index], saga.steps[move.index])
        assert isinstance(move, Finish)
        return await self._finish(saga, move.status)

    async def _run(self, saga: SagaState, bound: BoundFlow, index: int) -> bool:
        step, row = bound.flow.steps[index], saga.steps[index]
        events = [Event("saga.started")] if saga.status is SagaStatus.PENDING else []
        saga.status = SagaStatus.RUNNING
        self._claim(row, StepStatus.RUNNING)
        row.attempts += 1
        events.append(Event("step.claimed", step.name, row.attempts))
        if not await self._commit(saga, row, *events):
            return False
        ctx = self._context(saga, bound.flow)
        try:
            output, adopted = await self._find_or_run(step, ctx, bound.deps, row.attempts)
        except Exception as exc:
            return await self._step_failed(saga, step, row, exc)
        succeeded = outcomes.step_succeeded(step, row, output, adopted, self.clock())
        carried = _CARRY.get()
        if carried is not None and carried.saga_id == saga.id:
            carried.add(row, succeeded)  # written with the next move's claim: one transaction
            return True
        return await self._commit(saga, row, succeeded)

    async def _find_or_run(
        self, step: Step[Any, Any, Any], ctx: StepContext[Any], deps: Any, attempt: int
    ) -> tuple[Any, bool]:
        """A retried step first looks for the record an earlier, cut-off try may have made."""
        if attempt > 1 and step.find is not None:
            found = await step.find(ctx, deps)
            if found is not None:
                return found, True
        return await step.run(ctx, deps), False

    async def _step_failed(
        self, saga: SagaState, step: Step[Any, Any, Any], row: StepState, exc: Exception
    ) -> bool:
        if not isinstance(exc, CrmError):
            log.exception("step %s of saga %s raised", step.name, saga.id)
        policy = step.retry or self.retry
        events = outcomes.step_failed(
            saga, step, row, exc, policy, self.ambiguous_wait_s, self.clock()
        )
        return await self._commit(saga, row, *events)

    async def _give_up(self, saga: SagaState, step: Step[Any, Any, Any], row: StepState) -> bool:
        events = outcomes.deadline_passed(saga, step, row, self.clock())
        return await self._commit(saga, row, *events)

    async def _undo(self, saga: SagaState, bound: BoundFlow, index: int) -> bool:
        step, row = bound.flow.steps[index], saga.steps[index]
        if step.undo is None:  # irreversible write: only a person can take it back
            return await self._leave_for_operator(saga, bound, step, row)
        self._claim(row, StepStatus.COMPENSATING)
        row.undo_attempts += 1
        if not await self._commit(saga, row, Event("undo.claimed", step.name, row.undo_attempts)):
            return False
        ctx = self._context(saga, bound.flow)
        try:
            record = await self._record_to_undo(step, row, ctx, bound.deps)
            if record is not None:
                await step.undo(ctx, bound.deps, record)
        except Exception as exc:
            return await self._undo_failed(saga, bound.flow, step, row, exc)
        return await self._commit(saga, row, outcomes.undone(step, row, record, self.clock()))

    async def _leave_for_operator(
        self, saga: SagaState, bound: BoundFlow, step: Step[Any, Any, Any], row: StepState
    ) -> bool:
        """A write with no undo stays for a person, said so in those words. A failed step first
        looks (by marker) for what its tries left behind: none found, nothing to undo."""
        finder = step.leftovers or step.find
        if row.output is None and finder is not None:
            try:
                found = await finder(self._context(saga, bound.flow), bound.deps)
            except Exception as exc:
                return await self._undo_failed(saga, bound.flow, step, row, exc)
            if found is not None:
                row.output = to_json(step.output, found)
        return await self._commit(saga, row, outcomes.left_behind(step, row, finder is not None))

    async def _record_to_undo(
        self, step: Step[Any, Any, Any], row: StepState, ctx: StepContext[Any], deps: Any
    ) -> Any:
        """The step's output; for a step that failed, whatever its earlier tries left behind."""
        if row.output is not None:
            return from_json(step.output, row.output)
        if step.find is None:
            raise RuntimeError(f"{step.name} may have written a record and has no finder")
        found = await step.find(ctx, deps)
        if found is not None:
            row.output = to_json(step.output, found)
        return found

    async def _undo_failed(
        self,
        saga: SagaState,
        flow: Flow[Any, Any],
        step: Step[Any, Any, Any],
        row: StepState,
        exc: Exception,
    ) -> bool:
        if not isinstance(exc, CrmError):
            log.exception("undo of %s in saga %s raised", step.name, saga.id)
        policy = flow.undo_retry or self.undo_retry
        return await self._commit(
            saga, row, outcomes.undo_failed(step, row, exc, policy, self.clock())
        )

    async def _finish(self, saga: SagaState, status: SagaStatus) -> bool:
        saga.status, saga.finished_at = status, self.clock()
        notify = finish_notices(saga, status)
        if not await self._commit(saga, None, Event(f"saga.{status.value}"), notify=notify):
            return False
        if notify and self.on_finish is not None:  # nothing queued: nothing to deliver
            try:
                await self.on_finish(saga)
            except Exception:  # the outbox keeps the notice; delivery is retried later
                log.exception("on_finish hook failed for saga %s", saga.id)
        return True

    # --- bookkeeping ---------------------------------------------------------------------------

    def _claim(self, row: StepState, status: StepStatus) -> None:
        outcomes.claimed(row, status, self.clock(), self.lease_s, self.holder)

    async def _commit(
        self,
        saga: SagaState,
        row: StepState | Sequence[StepState] | None,
        *events: Event,
        notify: tuple[str, ...] = (),
    ) -> bool:
        now = self.clock()
        expected = saga.version
        saga.version += 1
        saga.updated_at = now
        saga.wake_at = wake_at(saga, now)
        steps = (row,) if isinstance(row, StepState) else tuple(row or ())
        carried = _CARRY.get()
        if carried is not None and carried.saga_id == saga.id and carried.events:
            steps, events = carried.merge(steps, events)
        for step in steps:
            if step.status not in (StepStatus.RUNNING, StepStatus.COMPENSATING):
                step.holder = None  # a claim's end: nobody holds the step now
        change = Change(saga, expected, steps, tuple(events), notify)
        return await self._apply(change)

    async def _commit_carried(self, saga: SagaState) -> bool:
        carried = _CARRY.get()
        if carried is None or not carried.events:
            return True
        return await self._commit(saga, None)

    async def _apply(self, change: Change) -> bool:
        """Write the change; while the store is down, keep the outcome and try again, so a CRM
        effect that happened is not forgotten (up to store_retry_s, then the lease decides)."""
        give_up_at = asyncio.get_running_loop().time() + self.store_retry_s
        pause = 0.2
        while True:
            try:
                return await self.store.apply(change)
            except StoreUnavailable:
                if asyncio.get_running_loop().time() + pause > give_up_at:
                    raise
                log.warning("state store unavailable; saga %s keeps its change", change.saga.id)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _context(self, saga: SagaState, flow: Flow[Any, Any]) -> StepContext[Any]:
        outputs = {
            step.name: from_json(step.output, row.output)
            for step, row in zip(flow.steps, saga.steps, strict=True)
            if row.output is not None
        }
        return StepContext(saga.id, from_json(flow.input_type, saga.input), outputs)

    def _bound(self, flow_name: str) -> BoundFlow:
        try:
            return self.flows[flow_name]
        except KeyError:
            raise FlowNotFound(flow_name) from None

    def _seconds_until(self, at: datetime) -> float:
        return max(0.0, (at - self.clock()).total_seconds())
