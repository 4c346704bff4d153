"""`salesaga sagas …`: list, show, retry, compensate, resolve, tail.

With the service's environment they read the database directly; with SALESAGA_URL and
SALESAGA_API_KEY they ask a running service instead. `--json` prints machine-readable output.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from typing import Annotated, Any

import typer

from orchestrator.saga.state import SagaStatus
from orchestrator.settings import get_settings

sagas_cli = typer.Typer(help="Inspect and act on sagas (local database, or SALESAGA_URL).")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
Comment = Annotated[str | None, typer.Option(help="Why: kept in the saga's event log")]


@sagas_cli.command("list")
def sagas_list(
    status: Annotated[SagaStatus | None, typer.Option(case_sensitive=False)] = None,
    flow: Annotated[str | None, typer.Option(help="e.g. zoho.sale")] = None,
    contact: Annotated[str | None, typer.Option(help="Contact id")] = None,
    q: Annotated[str | None, typer.Option(help="Text in ids, record ids or the error")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,  # as GET /sagas
    as_json: JsonFlag = False,
) -> None:
    """Newest sagas first."""
    from orchestrator.cli_view import fetch_list, print_list

    word = status.value if status is not None else None
    filters = {"status": word, "flow": flow, "contact": contact, "q": q, "limit": limit}
    page = _run(fetch_list(get_settings(), _remote(), filters))
    typer.echo(json.dumps(page, indent=2)) if as_json else print_list(page)


@sagas_cli.command("show")
def sagas_show(saga_id: str, as_json: JsonFlag = False) -> None:
    """One saga: status, steps, record ids, events, e-mails."""
    from orchestrator.cli_view import fetch_one, print_one

    saga = _run(fetch_one(get_settings(), _remote(), _checked(saga_id)))
    if saga is None:
        typer.echo(f"no saga {saga_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(saga, indent=2)) if as_json else print_one(saga)


@sagas_cli.command("retry")
def sagas_retry(saga_id: str, comment: Comment = None, as_json: JsonFlag = False) -> None:
    """Resume a failed or compensated saga forward from its failed step."""
    _act(saga_id, "retry", comment, as_json)


@sagas_cli.command("compensate")
def sagas_compensate(saga_id: str, comment: Comment = None, as_json: JsonFlag = False) -> None:
    """Roll a saga back now (or again, after compensation_failed)."""
    _act(saga_id, "compensate", comment, as_json)


@sagas_cli.command("resolve")
def sagas_resolve(
    saga_id: str,
    comment: Annotated[str, typer.Option(help="How the left-over records were cleaned up")],
    as_json: JsonFlag = False,
) -> None:
    """Record that the left-over records were cleaned up by hand."""
    _act(saga_id, "resolve", comment, as_json)


@sagas_cli.command("tail")
def sagas_tail(
    saga_id: Annotated[str | None, typer.Option("--saga", help="Only this saga")] = None,
    every: Annotated[float, typer.Option(help="Seconds between polls")] = 1.0,
    count: Annotated[int, typer.Option(help="Stop after this many events (0: never)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Follow new saga events live (Ctrl-C to stop)."""
    from orchestrator.cli_view import fetch_events, latest_event_id, print_event

    settings, remote = get_settings(), _remote()
    saga = str(_checked(saga_id)) if saga_id else None
    after, shown = _run(latest_event_id(settings, remote)), 0
    try:
        while count == 0 or shown < count:
            for event in _run(fetch_events(settings, remote, after=after, saga_id=saga)):
                after = max(after, int(event["id"]))
                typer.echo(json.dumps(event)) if as_json else print_event(event)
                shown += 1
                if count and shown >= count:
                    return
            time.sleep(every)
    except KeyboardInterrupt:
        return


def _act(saga_id: str, action: str, comment: str | None, as_json: bool) -> None:
    from orchestrator.cli_view import act, backends_or_exit, print_one

    settings, remote = get_settings(), _remote()
    if remote is None:  # acting here builds the backends
        backends_or_exit(settings)
    saga = _run(act(settings, remote, _checked(saga_id), action, comment))
    if as_json:
        typer.echo(json.dumps(saga, indent=2))
    else:
        typer.echo(f"{action}: saga {saga_id} is now {saga['status']}")
        print_one(saga)


def _run(coroutine: Any) -> Any:
    """Run one call; a refusal or an unreachable service is a message and exit 1, not a trace."""
    from orchestrator.cli_view import CliError

    try:
        return asyncio.run(coroutine)
    except CliError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _checked(saga_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(saga_id)
    except ValueError:
        raise typer.BadParameter("must be a saga UUID", param_hint="ID") from None


def _remote() -> tuple[str, str] | None:
    url = os.environ.get("SALESAGA_URL")
    if not url:
        return None
    key = os.environ.get("SALESAGA_API_KEY", "")
    if not key:
        raise typer.BadParameter("SALESAGA_URL needs SALESAGA_API_KEY too")
    return url.rstrip("/"), key
