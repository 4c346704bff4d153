"""`salesaga <backend> subscribe | unsubscribe`: point a CRM's webhooks (every trigger it has)
at this service's receiver, PUBLIC_URL/hooks/<backend>/<trigger>/<WEBHOOK_SECRET>. Both are
idempotent: subscribing twice keeps one subscription, unsubscribing an absent one succeeds."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from orchestrator.backends.base import CrmBackend
from orchestrator.settings import Settings, get_settings


def hooks_cli(backend: CrmBackend[Any]) -> typer.Typer:
    hooks = backend.webhooks
    assert hooks is not None
    cli = typer.Typer(help=f"{backend.title}: the events it pushes to this service.",
                      no_args_is_help=True)  # fmt: skip

    @cli.command()
    def subscribe() -> None:
        """Subscribe this service's receiver to every trigger."""
        _run(backend, "subscribe")

    @cli.command()
    def unsubscribe() -> None:
        """Stop every trigger's subscription."""
        _run(backend, "unsubscribe")

    return cli


def receiver_url(settings: Settings, backend: str, trigger: str) -> str:
    secret = settings.webhook_secret.get_secret_value()
    return f"{settings.public_url.rstrip('/')}/hooks/{backend}/{trigger}/{secret}"


def _run(backend: CrmBackend[Any], action: str) -> None:
    from orchestrator.cli_view import backends_or_exit

    settings = get_settings()
    backends_or_exit(settings)
    if not settings.public_url or not settings.webhook_secret.get_secret_value():
        typer.echo("salesaga: set PUBLIC_URL (where the CRM reaches this service) and "
                   "WEBHOOK_SECRET first", err=True)  # fmt: skip
        raise typer.Exit(2)
    try:
        done = asyncio.run(_act(settings, backend, action))
    except Exception as exc:  # a CRM refusal: its message, never a trace (and no secret)
        typer.echo(f"salesaga: {action} failed: {exc}", err=True)
        raise typer.Exit(1) from None
    base = settings.public_url.rstrip("/")
    for trigger in done:  # the secret is not printed
        typer.echo(f"{action}d {backend.name} {trigger} → {base}/hooks/{backend.name}/{trigger}/…")


def subscribe_sandboxes_when_up(settings: Settings, timeout_s: float = 60.0) -> None:
    """`salesaga dev`: once the service answers, subscribe it to the events of every backend
    that pushes them and runs on its sandbox (run in a thread beside the server)."""
    import logging
    import time

    import httpx

    from orchestrator.bootstrap import plan_backends

    log = logging.getLogger("orchestrator.cli")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{settings.service_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    for plan in plan_backends(settings):
        if plan.mode == "sandbox" and plan.backend.webhooks is not None:
            try:
                asyncio.run(_act(settings, plan.backend, "subscribe"))
                log.info("%s sandbox pushes its events to this service", plan.backend.title)
            except Exception as exc:  # dev convenience only: the service runs without it
                log.warning("could not subscribe to %s events: %s", plan.backend.title, exc)


async def _act(settings: Settings, backend: CrmBackend[Any], action: str) -> list[str]:
    from orchestrator.bootstrap import build_deps

    assert backend.webhooks is not None
    deps = await build_deps(settings)
    try:
        adapter = deps.crms.get(backend.name)
        if adapter is None:
            raise RuntimeError(f"the {backend.name} backend is not configured")
        for trigger in backend.webhooks.triggers:
            await getattr(adapter, action)(trigger, receiver_url(settings, backend.name, trigger))
        return list(backend.webhooks.triggers)
    finally:
        await deps.aclose()
