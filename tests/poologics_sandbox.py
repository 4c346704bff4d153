"""Run the Poologics sandbox over real HTTP for tests: uvicorn in a background thread on a free
port.

    with running_poologics_sandbox() as sandbox:
        crm = await open_poologics_crm(sandbox.settings(), OpenContext(InMemoryTokenCache()))
        sandbox.state.faults.fail("write", error="unexpected")
        sandbox.state.revoke_key()
        sandbox.state.webhooks.drain()  # every event delivered (or given up)

    with running_webhook_receiver() as receiver:  # records the sandbox's webhook POSTs
        receiver.answer(500)  # the next call fails, then 200s
        receiver.events("new_opportunity")

The app is mounted under `prefix` (default /poologics-sandbox, as in dev mode), so `sandbox.url`
is POOLOGICS_URL. `settings()` logs in with the sandbox user's login and password; pass
`api_key=SANDBOX_API_KEY` (and `login=""`) for a configured key. Pass a configured state for
other behaviour, e.g. `running_poologics_sandbox(SandboxState(webhook_backoff_s=0.01))`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from orchestrator.backends.poologics.backend import sandbox_settings
from orchestrator.backends.poologics.sandbox.app import create_sandbox_app
from orchestrator.backends.poologics.sandbox.data import SandboxState
from orchestrator.backends.poologics.settings import PoologicsSettings
from tests.servers import serve_in_thread, serve_sandbox


@dataclass(frozen=True)
class RunningPoologicsSandbox:
    url: str  # e.g. http://127.0.0.1:54321/poologics-sandbox
    state: SandboxState

    def settings(self, **overrides: Any) -> PoologicsSettings:
        """Settings pointing at this sandbox (its user's login and password, UI links), with
        short timeouts; any field can be overridden (`password="wrong"`, `read_timeout_s=0.3` …)."""
        base = sandbox_settings(self.url).model_dump()
        base |= {"connect_timeout_s": 2.0, "read_timeout_s": 10.0, "max_connections": 10}
        return PoologicsSettings(**(base | overrides))


@contextlib.contextmanager
def running_poologics_sandbox(
    state: SandboxState | None = None, *, prefix: str = "/poologics-sandbox"
) -> Iterator[RunningPoologicsSandbox]:
    """Start the sandbox on 127.0.0.1:<free port>, wait until it answers, stop it on exit (and
    the webhook thread of a state it made)."""
    own = state is None
    state = state if state is not None else SandboxState()
    try:
        app = create_sandbox_app(state)
        with serve_sandbox(app, prefix=prefix, name="poologics-sandbox") as url:
            yield RunningPoologicsSandbox(url=url, state=state)
    finally:
        if own:
            state.close()


# --- a webhook receiver -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    path: str  # e.g. /hooks/leads
    headers: dict[str, str]  # lower-case names
    body: Any


class WebhookReceiver:
    """What a receiver served by `running_webhook_receiver` got, and what it answers next."""

    def __init__(self) -> None:
        self.url = ""  # set once served: POST {url}/hooks/<anything>
        self._lock = threading.Lock()
        self._events: list[ReceivedEvent] = []
        self._statuses: deque[int] = deque()

    def answer(self, *statuses: int) -> None:
        """The next calls answer these statuses, in order (then 200)."""
        with self._lock:
            self._statuses.extend(statuses)

    def events(self, trigger: str | None = None) -> list[ReceivedEvent]:
        """Every call received, oldest first (only `trigger`'s when given)."""
        with self._lock:
            found = list(self._events)
        return [e for e in found if trigger is None or e.headers.get(EVENT) == trigger]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._statuses.clear()

    def _received(self, event: ReceivedEvent) -> int:
        with self._lock:
            self._events.append(event)
            return self._statuses.popleft() if self._statuses else 200


EVENT = "x-poologics-event"
DELIVERY = "x-poologics-delivery"


@contextlib.contextmanager
def running_webhook_receiver() -> Iterator[WebhookReceiver]:
    """A small FastAPI app on 127.0.0.1:<free port> recording every POST /hooks/…."""
    receiver = WebhookReceiver()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/hooks/{name}")
    async def hook(name: str, request: Request) -> Response:
        headers = {key.lower(): value for key, value in request.headers.items()}
        event = ReceivedEvent(f"/hooks/{name}", headers, await request.json())
        return Response(status_code=receiver._received(event))

    with serve_in_thread(app) as url:
        receiver.url = url
        yield receiver
