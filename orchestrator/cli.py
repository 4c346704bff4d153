"""The `salesaga` command: serve | worker | consume | dev | recover | db … | migrate | sagas … |
messages ….

An entry point: it reads settings and builds the app, the worker or a store for inspection.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

from orchestrator.api.keys import DEV_CLIENT_KEY, DEV_OPERATOR_KEY, KeyConfigError
from orchestrator.backends import BACKENDS
from orchestrator.cli_db import (
    db_cli,
    describe_upgrade,
    schema_or_exit,
    unreachable,
    upgrade_command,
    upgrade_database,
)
from orchestrator.cli_hooks import hooks_cli
from orchestrator.cli_messages import messages_cli
from orchestrator.cli_sagas import sagas_cli
from orchestrator.settings import Settings, get_settings
from orchestrator.store.migrate import SchemaNotCurrent

cli = typer.Typer(help="Transactional sales orchestration: sagas over CRMs.", no_args_is_help=True)
cli.add_typer(sagas_cli, name="sagas")
cli.add_typer(messages_cli, name="messages")
cli.add_typer(db_cli, name="db")
cli.command("migrate", help="The same as `salesaga db upgrade`.")(upgrade_command)
for _backend in BACKENDS:  # `salesaga poologics subscribe`: backends that push events
    if _backend.webhooks is not None:
        cli.add_typer(hooks_cli(_backend), name=_backend.name)

# Development defaults of `salesaga dev` only, documented in the README: not secrets.
DEV_WEBHOOK_SECRET = "dev-webhook-secret"


@cli.command()
def serve(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: PORT or 8000)")
    ] = None,
) -> None:
    """Run the HTTP API (uvicorn). Workers run separately (`salesaga worker`), except with the
    in-process broker (BROKER_URL=memory://), where they run inside this process."""
    import uvicorn

    from orchestrator.logging import configure_logging
    from orchestrator.server import create_app
    from workers.celery_app import dispatch
    from workers.embedded import embedded_worker
    from workers.streams import embedded_stream_consumer

    settings = _with_port(get_settings(), port)
    configure_logging(settings)
    _check_backends(settings)
    app = _app_or_exit(create_app, settings, dispatch)  # keys first: no database needed
    schema_or_exit(settings)
    if not settings.broker_url.startswith("memory://"):
        uvicorn.run(app, host="0.0.0.0", port=settings.port, log_config=None)
        return
    # The in-process broker reaches no other process: the workers (and the stream consumer, if
    # STREAM_URL is set) must live in this one.
    with (
        embedded_worker(settings, concurrency=settings.worker_concurrency),
        embedded_stream_consumer(settings),
    ):
        uvicorn.run(app, host="0.0.0.0", port=settings.port, log_config=None)


@cli.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Threads taking messages (WORKER_CONCURRENCY)")
    ] = None,
    beat: Annotated[bool, typer.Option(help="Also run the periodic recovery sweeps")] = True,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a worker process: a Celery worker (threads pool) whose tasks hand each saga to the
    process's event loop, which drives up to WORKER_SAGAS at once. Run one per CPU core; with
    several workers, give --beat to exactly one of them. SIGTERM: calls in flight finish within
    SHUTDOWN_GRACE_S, the other sagas move on to other workers at once, exit 0."""
    from orchestrator.logging import configure_logging
    from workers.celery_app import app

    settings = get_settings()
    configure_logging(settings)
    _check_backends(settings)
    schema_or_exit(settings)
    argv = ["worker", f"--loglevel={loglevel}", "--pool=threads",
            f"--concurrency={concurrency or settings.worker_concurrency}"]  # fmt: skip
    app.worker_main([*argv, "--beat"] if beat else argv)


@cli.command()
def dev(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: PORT or 8000)")
    ] = None,
) -> None:
    """API, worker and every CRM backend's sandbox in one process on embedded defaults: a
    SQLite file, the in-process broker, e-mails written to .salesaga/mail/."""
    import threading

    import uvicorn

    from orchestrator.cli_hooks import subscribe_sandboxes_when_up
    from orchestrator.logging import configure_logging
    from orchestrator.server import create_app
    from workers.celery_app import dispatch
    from workers.embedded import embedded_worker
    from workers.streams import embedded_stream_consumer

    settings = _dev_settings(_with_port(get_settings(), port))
    configure_logging(settings)
    _check_backends(settings)
    # one command runs the service (README): dev brings its database to head itself
    typer.echo(describe_upgrade(settings.database_url,
                                asyncio.run(upgrade_database(settings.database_url))))  # fmt: skip
    with (
        embedded_worker(settings, concurrency=settings.worker_concurrency),
        embedded_stream_consumer(settings),
    ):
        typer.echo(f"salesaga dev on http://127.0.0.1:{settings.port}  (keys: see README)")
        typer.echo(f"e-mails are written to {settings.mail_sink_dir}/")
        app = _app_or_exit(create_app, settings, dispatch, dev=True)
        threading.Thread(target=subscribe_sandboxes_when_up, args=(settings,),
                         name="salesaga-subscribe", daemon=True).start()  # fmt: skip
        uvicorn.run(app, host="127.0.0.1", port=settings.port, log_config=None)


keys_cli = typer.Typer(help="API keys: make one, check the configured ones.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


@keys_cli.command("new")
def keys_new(
    name: Annotated[str, typer.Option(help="The key's name, as logs and the event log show it")],
    role: Annotated[str, typer.Option(help="client or operator")] = "client",
) -> None:
    """Make a random key: prints it once, with its API_KEYS_FILE entry (a digest, no key) and
    its API_KEYS / OPERATOR_API_KEYS form. Give the key to its caller; keep only the entry."""
    from orchestrator.api.auth import Role
    from orchestrator.api.keys import NAME, file_entry, new_key

    if not NAME.match(name) or role not in ("client", "operator"):
        typer.echo("salesaga: --name is 1 to 40 of A-Z a-z 0-9 _ . -; --role client|operator",
                   err=True)  # fmt: skip
        raise typer.Exit(2)
    key = new_key()
    setting = "API_KEYS" if role == "client" else "OPERATOR_API_KEYS"
    typer.echo(f"key (shown once): {key}\n\n# API_KEYS_FILE entry\n"
               f"{file_entry(name, Role[role.upper()], key)}\n# or in the environment\n"
               f"{setting}={name}:{key}")  # fmt: skip


@keys_cli.command("check")
def keys_check() -> None:
    """Load API_KEYS, OPERATOR_API_KEYS and API_KEYS_FILE as `serve` would; list the keys by
    name, role and fingerprint (never a key). Exit 2 naming the first entry that is refused."""
    from orchestrator.api.keys import key_ring

    settings = get_settings()
    ring = _app_or_exit(key_ring, settings.api_keys, settings.operator_api_keys,
                        settings.api_keys_file)  # fmt: skip
    for key in ring.keys:
        limit = f"  {key.rate_limit_per_min}/min" if key.rate_limit_per_min else ""
        typer.echo(f"{key.role.name.lower():9} {key.name:40} {key.fingerprint}{limit}")


@cli.command()
def consume() -> None:
    """Read plain JSON requests from the Redis Stream REQUESTS_STREAM (consumer group
    STREAM_GROUP on STREAM_URL) and start their sagas; run one or more beside the workers."""
    from orchestrator.logging import configure_logging
    from workers.streams import consume_until_signalled

    settings = get_settings()
    configure_logging(settings)
    _check_backends(settings)
    if settings.stream_redis_url is None:
        typer.echo("no stream Redis: set STREAM_URL (or a redis:// BROKER_URL)", err=True)
        raise typer.Exit(2)
    schema_or_exit(settings)
    consume_until_signalled(settings)


@cli.command()
def recover() -> None:
    """One recovery pass by hand: send every saga the table says is due (lost message, dead
    worker, finished backoff) to the workers, and deliver pending e-mails."""
    from orchestrator.cli_view import recover_once

    settings = get_settings()
    _check_backends(settings)
    dispatched, mailed = asyncio.run(recover_once(settings))
    typer.echo(f"re-dispatched {dispatched} saga(s); delivered {mailed} e-mail(s)")


def _check_backends(settings: Settings) -> None:
    """Refuse to start when a backend's settings are partial; say which CRM each backend uses."""
    import logging

    from orchestrator.cli_view import backends_or_exit

    plans = backends_or_exit(settings)
    log = logging.getLogger("orchestrator.cli")
    for plan in plans:
        if plan.mode == "sandbox":
            log.warning("%s runs against its built-in sandbox (CRM_SANDBOX): no real CRM is "
                        "reached", plan.backend.title)  # fmt: skip
        elif plan.mode == "off":
            log.info("%s is off: its settings are not given; its flows cannot be started",
                     plan.backend.title)  # fmt: skip
    if not any(plan.mode != "off" for plan in plans):
        log.warning(
            "no CRM backend is configured: no flow can be started (see "
            "docs/configuration.md, or CRM_SANDBOX=true to try the sandboxes)"
        )


def _app_or_exit(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The app, or exit 2 saying which configured key cannot be used (never the key)."""
    try:
        return make(*args, **kwargs)
    except KeyConfigError as refused:
        typer.echo(f"salesaga: {refused}", err=True)
        raise typer.Exit(2) from None


def _with_port(settings: Settings, port: int | None) -> Settings:
    return settings.model_copy(update={"port": port}) if port else settings


def _dev_settings(settings: Settings) -> Settings:
    changes: dict[str, Any] = {"crm_sandbox": True}  # every backend without settings: sandbox
    if "API_DOCS" not in os.environ:
        changes["api_docs"] = True
    if "MAIL_BACKEND" not in os.environ:
        changes["mail_backend"] = "sink"
    if not settings.api_keys:
        changes["api_keys"] = Settings(api_keys=DEV_CLIENT_KEY).api_keys
    if not settings.operator_api_keys:
        changes["operator_api_keys"] = Settings(
            operator_api_keys=DEV_OPERATOR_KEY
        ).operator_api_keys
    if "LOG_JSON" not in os.environ:
        changes["log_json"] = False
    if not settings.webhook_secret.get_secret_value():  # the sandboxes push events to dev
        changes["webhook_secret"] = Settings(webhook_secret=DEV_WEBHOOK_SECRET).webhook_secret
    if not settings.public_url:
        changes["public_url"] = settings.service_url
    return settings.model_copy(update=changes)


def main() -> None:
    try:
        cli()
    except SchemaNotCurrent as stale:  # a command that opened the database without checking
        typer.echo(str(stale), err=True)
        raise SystemExit(1) from None
    except (OperationalError, InterfaceError) as failed:  # down, or DATABASE_URL is wrong
        typer.echo(unreachable(failed), err=True)
        raise SystemExit(1) from None
    except ValidationError as invalid:
        if not invalid.title.endswith("Settings"):
            raise
        typer.echo(not_valid(invalid), err=True)
        raise SystemExit(1) from None


def not_valid(invalid: ValidationError) -> str:
    """The environment variables that are not valid and why, never their values (the
    settings hide their input in errors: a value may be a secret)."""
    lines = [
        f"  {'_'.join(str(part) for part in error['loc']).upper() or 'settings'}: {error['msg']}"
        for error in invalid.errors(include_url=False, include_input=False)
    ]
    return "\n".join(["salesaga: a setting is not valid (docs/configuration.md):", *lines])


if __name__ == "__main__":
    main()
