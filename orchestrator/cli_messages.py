"""`salesaga messages …`: dead-letters, show, replay — on the local database (the service's
environment), like `salesaga sagas` without SALESAGA_URL (the HTTP API has no dead-letter
endpoint yet)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli_view import hand_over
from orchestrator.settings import Settings, get_settings

messages_cli = typer.Typer(help="Queue messages: dead letters, and replaying one after a fix.")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


@messages_cli.command("dead-letters")
def dead_letters(
    status: Annotated[str | None, typer.Option(help="new | replayed (default: both)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Messages that started no saga, with the reason."""
    from orchestrator.messaging.store import DeadLetterStatus

    if status is not None and status not in DeadLetterStatus.__members__.values():
        raise typer.BadParameter("use new or replayed", param_hint="--status")
    wanted = DeadLetterStatus(status) if status else None
    letters = asyncio.run(_listed(get_settings(), wanted, limit))
    if as_json:
        typer.echo(json.dumps(letters, indent=2))
        return
    table = Table("id", "received", "source", "message id", "reason", "status")
    for item in letters:
        table.add_row(str(item["id"]), item["receivedAt"][:19].replace("T", " "), item["source"],
                      item["messageId"] or "", item["reason"], item["status"])  # fmt: skip
    Console().print(table)


@messages_cli.command("show")
def show(dead_letter_id: int, as_json: JsonFlag = False) -> None:
    """One dead letter with its payload as sent (a starting point for --payload-file)."""
    letter = asyncio.run(_one(get_settings(), dead_letter_id))
    if letter is None:
        typer.echo(f"no dead letter {dead_letter_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(letter, indent=2))
        return
    for key in ("id", "receivedAt", "source", "messageId", "reason", "status", "replaySagaId"):
        typer.echo(f"{key}: {letter[key]}")
    from orchestrator.messaging.store import pretty_payload

    typer.echo(f"payload:\n{pretty_payload(letter['payload'])}")


@messages_cli.command("replay")
def replay(
    dead_letter_id: int,
    payload_file: Annotated[
        Path | None, typer.Option(help="A fixed payload (JSON) to use instead of the stored one")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate the message again and start its saga; still invalid: exit 1 with the reason."""
    from orchestrator.cli_view import backends_or_exit
    from orchestrator.messaging.intake import ReplayRefused

    fixed = payload_file.read_text(encoding="utf-8") if payload_file else None
    settings = get_settings()
    backends_or_exit(settings)
    try:
        body = asyncio.run(_replayed(settings, dead_letter_id, fixed))
    except ReplayRefused as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(body))
    else:
        typer.echo(
            f"dead letter {dead_letter_id} replayed: saga {body['sagaId']} ({body['status']})"
        )


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Any]:
    from orchestrator.store.db import make_engine
    from orchestrator.store.migrate import require_head

    db = make_engine(settings.database_url)
    try:
        await require_head(db, settings.database_url)
        yield db
    finally:
        await db.dispose()


async def _listed(settings: Settings, status: Any, limit: int) -> list[dict[str, Any]]:
    from orchestrator.messaging.store import list_dead_letters

    async with _database(settings) as db:
        return [
            letter.to_json() for letter in await list_dead_letters(db, status=status, limit=limit)
        ]


async def _one(settings: Settings, dead_letter_id: int) -> dict[str, Any] | None:
    from orchestrator.messaging.store import load_dead_letter

    async with _database(settings) as db:
        letter = await load_dead_letter(db, dead_letter_id)
    return letter.to_json() if letter is not None else None


async def _replayed(settings: Settings, dead_letter_id: int, fixed: str | None) -> dict[str, Any]:
    from orchestrator.bootstrap import build_deps
    from orchestrator.messaging.intake import replay as replay_letter

    deps = await build_deps(settings)
    try:
        actor = f"cli:{getpass.getuser()}"
        inbox = deps.inbox(_no_dispatch)  # hand_over below sends it (or runs it here)
        started = await replay_letter(inbox, dead_letter_id, actor=actor, fixed_payload=fixed)
        if started.live:
            await hand_over(settings, deps.engine, started.saga_id)
    finally:
        await deps.aclose()
    return {"deadLetterId": dead_letter_id, **started.body()}


def _no_dispatch(saga_id: Any, delay_s: float = 0.0) -> None:
    del saga_id, delay_s
