"""What `salesaga sagas list|show` fetch (local database or remote API) and how they print them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from orchestrator.settings import Settings

Remote = tuple[str, str] | None


async def fetch_list(
    settings: Settings, remote: Remote, *, status: str | None, limit: int
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
    if remote is not None:
        return await _get(remote, "/sagas", params)
    from orchestrator.api.routes.sagas import page_json
    from orchestrator.store.db import make_engine
    from orchestrator.store.queries import SagaFilter, list_sagas

    db = make_engine(settings.database_url)
    try:
        return page_json(await list_sagas(db, SagaFilter(status=status, limit=limit)))
    finally:
        await db.dispose()


async def fetch_one(settings: Settings, remote: Remote, saga_id: str) -> dict[str, Any] | None:
    if remote is not None:
        try:
            return await _get(remote, f"/sagas/{saga_id}", {})
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return None
            raise
    from orchestrator.api.routes.sagas import saga_json
    from orchestrator.store.db import make_engine
    from orchestrator.store.queries import saga_detail

    db = make_engine(settings.database_url)
    try:
        detail = await saga_detail(db, uuid.UUID(saga_id))
        return saga_json(detail) if detail is not None else None
    finally:
        await db.dispose()


async def recover_once(settings: Settings) -> tuple[int, int]:
    """Claim due sagas and hand them to the workers; with the in-process broker (no worker can
    hear this process) advance them right here. Returns (sagas, e-mails delivered)."""
    from orchestrator.bootstrap import build_deps
    from workers.celery_app import dispatch

    deps = await build_deps(settings)
    try:
        due = await deps.engine.claim_due()
        for saga_id in due:
            if settings.broker_url.startswith("memory://"):
                await _advance_here(deps.engine, saga_id)
            else:
                dispatch(saga_id)
        return len(due), await deps.outbox.deliver_due()
    finally:
        await deps.aclose()


async def _advance_here(engine: Any, saga_id: uuid.UUID, patience_s: float = 30.0) -> None:
    waited = 0.0
    while (wakeup := await engine.advance(saga_id)) is not None and waited < patience_s:
        await asyncio.sleep(wakeup.after_s)
        waited += wakeup.after_s


async def _get(remote: tuple[str, str], path: str, params: dict[str, Any]) -> dict[str, Any]:
    url, key = remote
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        response = await http.get(path, params=params, headers={"x-api-key": key})
    response.raise_for_status()
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
        counts = (str(step["index"]), step["name"], step["status"], str(step["attempts"]))
        steps.add_row(*counts, str(step["undoAttempts"]), step.get("recordId") or "",
                      step.get("error") or "")  # fmt: skip
    console.print(steps)
    for record in saga.get("records", []):
        console.print(f"{record['record']} {record['id']}: {record['fate']}")
