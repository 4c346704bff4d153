"""A flow with a write that has no undo (as the no-undo CRM will need): the rollback stops at it
and the saga ends needs_manual_cleanup, with a notice queued."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.crm.errors import PermanentCrmError
from orchestrator.saga.definition import Flow, Step, StepContext
from orchestrator.saga.memory import InMemorySagaStore, run_to_end
from orchestrator.saga.state import SagaStatus, StepStatus


@dataclass(frozen=True)
class Ticket:
    id: str


class Desk:
    def __init__(self) -> None:
        self.tickets: list[str] = []
        self.undone: list[str] = []

    async def open_ticket(self, ctx: StepContext[str], _: object = None) -> Ticket:
        self.tickets.append(ctx.input)
        return Ticket(str(len(self.tickets)))

    async def note(self, ctx: StepContext[str], _: object = None) -> Ticket:
        return Ticket("note")

    async def drop_note(self, ctx: StepContext[str], _: object, note: Ticket) -> None:
        self.undone.append(note.id)

    async def escalate(self, ctx: StepContext[str], _: object = None) -> Ticket:
        raise PermanentCrmError("stage change refused", code="INVALID_DATA")


async def test_rollback_past_an_irreversible_step_needs_manual_cleanup():
    desk = Desk()
    flow = Flow(
        "test.ticket",
        str,
        (
            Step("open_ticket", desk.open_ticket, Ticket, irreversible=True, record="Ticket"),
            Step("note", desk.note, Ticket, undo=desk.drop_note),
            Step("escalate", desk.escalate, Ticket),
        ),
    )
    store = InMemorySagaStore()
    saga = await run_to_end(flow, "printer on fire", desk, store=store)
    assert saga.status is SagaStatus.NEEDS_MANUAL_CLEANUP
    assert [s.status for s in saga.steps] == [
        StepStatus.LEFT_FOR_OPERATOR, StepStatus.COMPENSATED, StepStatus.FAILED,
    ]  # fmt: skip
    assert desk.undone == ["note"] and desk.tickets == ["printer on fire"]
    assert store.outbox == [(saga.id, "sale_failed")]


async def test_the_event_log_says_what_each_undo_did_to_its_record():
    desk = Desk()
    flow = Flow(
        "test.ticket",
        str,
        (
            Step("open_ticket", desk.open_ticket, Ticket, irreversible=True, record="Ticket"),
            Step("note", desk.note, Ticket, undo=desk.drop_note, record="Note"),
            Step("escalate", desk.escalate, Ticket),
        ),
    )
    store = InMemorySagaStore()
    saga = await run_to_end(flow, "printer on fire", desk, store=store)
    undo = {e.step: e.detail for e in store.events[saga.id] if e.kind.startswith("undo.")
            and e.kind != "undo.claimed"}  # fmt: skip
    assert undo == {"note": {"record_id": "note", "undo": "delete"},
                    "open_ticket": {"undo": "none", "record_id": "1"}}  # fmt: skip


@dataclass(frozen=True)
class Batch:
    kind: str = "ticket"
    ids: tuple[str, ...] = ()


class BatchDesk:
    """Writes two tickets in one step; the second is refused after the first was made."""

    def __init__(self, refuse_first: bool = False) -> None:
        self.made: list[str] = []
        self.refuse_first = refuse_first

    async def open_two(self, ctx: StepContext[str], _: object = None) -> Batch:
        for name in ("a", "b"):
            if name == "b" or self.refuse_first:
                raise PermanentCrmError(f"ticket {name} refused", code="INVALID_DATA")
            self.made.append(name)
        return Batch(ids=tuple(self.made))

    async def left(self, ctx: StepContext[str], _: object = None) -> Batch | None:
        return Batch(ids=tuple(self.made)) if self.made else None


def batch_flow(desk: BatchDesk) -> Flow[str, object]:
    step = Step("open_two", desk.open_two, Batch, irreversible=True, record="Ticket",
                leftovers=desk.left)  # fmt: skip
    return Flow("test.batch", str, (step,))


async def test_a_step_that_fails_after_some_writes_lists_what_it_left():
    desk = BatchDesk()
    store = InMemorySagaStore()
    saga = await run_to_end(batch_flow(desk), "x", desk, store=store)
    assert saga.status is SagaStatus.NEEDS_MANUAL_CLEANUP  # failed on its first try, yet looked at
    assert saga.steps[0].status is StepStatus.LEFT_FOR_OPERATOR
    assert saga.steps[0].output == {"kind": "ticket", "ids": ["a"]}
    left = [e for e in store.events[saga.id] if e.kind == "undo.left_for_operator"]
    assert left[0].detail["record_id"] == "a"


async def test_a_step_that_wrote_nothing_before_failing_ends_failed():
    desk = BatchDesk(refuse_first=True)
    saga = await run_to_end(batch_flow(desk), "x", desk)
    assert saga.status is SagaStatus.FAILED
    assert saga.steps[0].status is StepStatus.NOTHING_TO_UNDO
