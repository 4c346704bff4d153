"""What the `salesaga` CLI fetches and does — against the local database, or a running service
given SALESAGA_URL and SALESAGA_API_KEY — and how it prints it (rich tables)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.cli_timeline import print_timeline
from orchestrator.settings import Settings
from orchestrator.views.timeline import build_timeline

Remote = tuple[str, str] | None


class CliError(Exception):
    """A refusal or an unreachable service, said in one line."""


def backends_or_exit(settings: Settings) -> list[Any]:
    """The backend plans; partial settings of a backend: its message and exit 2 (no trace)."""
    import typer

    from orchestrator.bootstrap import BackendMisconfigured, plan_backends

    try:
        return list(plan_backends(settings))
    except BackendMisconfigured as exc:
        typer.echo(f"salesaga: {exc}", err=True)
        raise typer.Exit(2) from None


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    from orchestrator.store.db import make_engine
    from orchestrator.store.migrate import require_head

    db = make_engine(settings.database_url)
    try:
        await require_head(db, settings.database_url)  # SchemaNotCurrent: cli.main says so
        yield db
    finally:
        await db.dispose()


async def fetch_list(settings: Settings, remote: Remote, filters: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in filters.items() if v is not None}
    if remote is not None:
        return await _call(remote, "GET", "/sagas", params=params)
    from orchestrator.store.queries import SagaFilter, list_sagas
    from orchestrator.views.sagas import page_json

    where = SagaFilter(status=params.get("status"), flow=params.get("flow"),
                       subject=params.get("contact"), text=params.get("q"),
                       limit=params.get("limit", 50))  # fmt: skip
    async with _database(settings) as db:
        return page_json(await list_sagas(db, where))


async def fetch_one(
    settings: Settings, remote: Remote, saga_id: uuid.UUID
) -> dict[str, Any] | None:
    if remote is not None:
        try:
            return await _call(remote, "GET", f"/sagas/{saga_id}")
        except CliError as exc:
            if "404" in str(exc):
                return None
            raise
    from orchestrator.store.queries import saga_detail
    from orchestrator.views.sagas import saga_json

    async with _database(settings) as db:
        detail = await saga_detail(db, saga_id)
    return saga_json(detail) if detail is not None else None


async def act(
    settings: Settings, remote: Remote, saga_id: uuid.UUID, action: str, comment: str | None
) -> dict[str, Any]:
    """retry | compensate | resolve, recorded as done by this user."""
    if remote is not None:
        body = {"comment": comment} if comment else {}
        return await _call(remote, "POST", f"/sagas/{saga_id}/{action}", json=body)
    from orchestrator.bootstrap import build_deps
    from orchestrator.saga.actions import Action, ActionRefused
    from orchestrator.saga.errors import SagaNotFound

    deps = await build_deps(settings)
    try:
        actor = f"cli:{getpass.getuser()}"
        await deps.engine.act(saga_id, Action(action), actor=actor, comment=comment)
        if action != Action.RESOLVE:
            await hand_over(settings, deps.engine, saga_id)
    except (ActionRefused, SagaNotFound) as exc:
        raise CliError(f"refused: {exc}") from None
    finally:
        await deps.aclose()
    found = await fetch_one(settings, None, saga_id)
    assert found is not None
    return found


async def fetch_events(
    settings: Settings, remote: Remote, *, after: int, saga_id: str | None
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"after": after, **({"saga": saga_id} if saga_id else {})}
    if remote is not None:
        return list((await _call(remote, "GET", "/events", params=params))["items"])
    from orchestrator.store.queries import events_after
    from orchestrator.views.sagas import event_json

    async with _database(settings) as db:
        rows = await events_after(db, after, uuid.UUID(saga_id) if saga_id else None)
    return [event_json(row) for row in rows]


async def latest_event_id(settings: Settings, remote: Remote) -> int:
    if remote is not None:
        return int((await _call(remote, "GET", "/events", params={"limit": 1}))["latest"])
    from orchestrator.store.queries import last_event_id

    async with _database(settings) as db:
        return await last_event_id(db)


async def recover_once(settings: Settings) -> tuple[int, int]:
    """Claim due sagas and hand them to the workers. Returns (sagas, e-mails delivered)."""
    from orchestrator.bootstrap import build_deps
    from orchestrator.saga.errors import BackendOff

    deps = await build_deps(settings)
    try:
        due = await deps.engine.claim_due()
        for saga_id in due:
            try:
                await hand_over(settings, deps.engine, saga_id)
            except BackendOff as off:  # another process, with that backend, moves it
                Console(stderr=True).print(f"saga {saga_id} left as it is: {off}")
        return len(due), await deps.outbox.deliver_due()
    finally:
        await deps.aclose()


async def hand_over(settings: Settings, engine: Any, saga_id: uuid.UUID) -> None:
    """Dispatch to the workers; with the in-process broker no worker can hear this process,
    so advance the saga right here."""
    if not settings.broker_url.startswith("memory://"):
        from workers.celery_app import dispatch

        try:
            dispatch(saga_id)
        except Exception as exc:  # the saga is in the table: the recovery sweep dispatches it
            Console(stderr=True).print(
                f"broker unavailable ({type(exc).__name__}): recovery will start it"
            )
        return
    waited = 0.0
    while (wakeup := await engine.advance(saga_id)) is not None and waited < 30.0:
        await asyncio.sleep(wakeup.after_s)
        waited += wakeup.after_s


async def _call(remote: tuple[str, str], method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    url, key = remote
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
            response = await http.request(method, path, headers={"x-api-key": key}, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(f"{url} unreachable: {type(exc).__name__}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise CliError(f"{response.status_code}: {message}")
    body: dict[str, Any] = response.json()
    return body


def print_list(page: dict[str, Any]) -> None:
    table = Table("id", "status", "flow", "contact", "created", "error")
    for item in page["items"]:
        table.add_row(item["id"], item["status"], item["flow"], item.get("subject") or "",
                      item["createdAt"], (item.get("error") or "")[:60])  # fmt: skip
    console = Console()
    console.print(table)
    if page.get("nextCursor"):
        console.print(f"more: --cursor {page['nextCursor']}")


def print_one(saga: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]{saga['id']}[/bold]  {saga['flow']}  status=[bold]{saga['status']}[/bold]"
    )
    if saga.get("error"):
        console.print(f"error: {saga['error']}  (step {saga.get('failedStep')})")
    steps = Table("#", "step", "status", "attempts", "undo", "record", "error")
    for step in saga["steps"]:
        counts = (str(step["index"] + 1), step["name"], step["status"], str(step["attempts"]))
        steps.add_row(*counts, str(step["undoAttempts"]), step.get("recordId") or "",
                      step.get("error") or "")  # fmt: skip
    console.print(steps)
    for record in saga.get("records", []):
        console.print(f"{record['record']} {record['id']}: {record['fate']}")
    console.print()
    print_timeline(build_timeline(saga), console)


def print_event(event: dict[str, Any]) -> None:
    where = f" {event['step']}#{event['attempt']}" if event.get("step") else ""
    detail = f" {event['detail']}" if event.get("detail") else ""
    Console().print(f"{event['at']} {event['sagaId']} {event['kind']}{where} "
                    f"by {event['actor']}{detail}", highlight=False)  # fmt: skip
