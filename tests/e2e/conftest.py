"""The whole service in one test process, shaped like production: the HTTP API under uvicorn,
a Celery worker on the real Redis broker, the Redis Stream consumer, PostgreSQL, the Zoho sandbox
and OnAutomate sandboxes over HTTP and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from orchestrator.server import create_app
from orchestrator.settings import Settings
from tests.onautomate_sandbox import RunningOnAutomateSandbox, running_onautomate_sandbox
from tests.poologics_sandbox import RunningPoologicsSandbox, running_poologics_sandbox
from tests.rpccrm_sandbox import RunningRpcCrmSandbox, running_rpccrm_sandbox
from tests.servers import serve_in_thread
from tests.smtp_server import SmtpServer, running_smtp
from tests.zoho_sandbox import RunningSandbox, running_sandbox
from workers.celery_app import dispatch
from workers.embedded import embedded_worker
from workers.streams import embedded_stream_consumer

CLIENT_KEY = "client-key-e2e-7f3a-2b9c"
OPERATOR_KEY = "operator-key-e2e-91bc"
IT_EMAIL = "it@poligonmuhendislik.com"
CONTACT_ID = "550428000008877665"
ACCOUNT_ID = "550428000002233445"
P1, P2 = "550428000000111222", "550428000000333444"
ORDER = {"contactId": CONTACT_ID, "products": [{"productId": P1, "quantity": 2},
                                               {"productId": P2, "quantity": 5}]}  # fmt: skip
SALE_MODULES = ("Deals", "Quotes", "Sales_Orders")
HOOK_SECRET = "hook-secret-e2e-5d1c"


@dataclass
class Service:
    api: httpx.Client
    operator: httpx.Client
    sandbox: RunningSandbox
    smtp: SmtpServer
    settings: Settings
    onautomate: RunningOnAutomateSandbox
    poologics: RunningPoologicsSandbox
    rpccrm: RunningRpcCrmSandbox

    def create_sales(self, body=None, **kwargs) -> httpx.Response:
        return self.api.post("/createSales", json=ORDER if body is None else body, **kwargs)

    def saga(self, saga_id: str) -> dict:
        response = self.api.get(f"/sagas/{saga_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_status(self, saga_id: str, *statuses: str, timeout_s: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            saga = self.saga(saga_id)
            if saga["status"] in statuses or time.monotonic() > deadline:
                return saga
            time.sleep(0.05)

    def mails_for(self, saga_id: str, timeout_s: float = 10.0) -> list:
        """The e-mails about this saga (an earlier test's may still be arriving)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [m for m in self.smtp.messages if saga_id in m["Subject"]]
            if found or time.monotonic() > deadline:
                time.sleep(0.2)  # a duplicate would arrive right behind the first
                return [m for m in self.smtp.messages if saga_id in m["Subject"]]
            time.sleep(0.05)

    def live(self, module: str) -> list[dict]:
        """Records this test created (the seed's are not counted)."""
        return [r for r in self.sandbox.state.records(module) if "seed" not in r["_meta"]]

    def left_in_crm(self) -> dict[str, int]:
        return {module: len(self.live(module)) for module in SALE_MODULES}


def e2e_settings(
    pg_url: str,
    redis_url: str,
    sandbox: RunningSandbox,
    smtp: SmtpServer,
    onautomate: RunningOnAutomateSandbox | None = None,
    poologics: RunningPoologicsSandbox | None = None,
    rpccrm: RunningRpcCrmSandbox | None = None,
) -> Settings:
    return Settings(
        database_url=pg_url,
        broker_url=redis_url,
        api_keys=CLIENT_KEY,
        operator_api_keys=OPERATOR_KEY,
        crms={
            "zoho": sandbox.settings(),
            **({"onautomate": onautomate.settings()} if onautomate else {}),
            **({"poologics": poologics.settings()} if poologics else {}),
            **({"rpccrm": rpccrm.settings()} if rpccrm else {}),
        },
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_from="salesaga@test.local",
        it_email=IT_EMAIL,
        retry_base_s=0.05,
        retry_cap_s=0.3,
        step_max_attempts=4,
        compensation_max_attempts=3,
        sync_wait_s=20.0,
        webhook_secret=HOOK_SECRET,
        log_json=True,
    )


@pytest.fixture(scope="session")
def service(pg_url, redis_url) -> Iterator[Service]:
    with running_sandbox() as sandbox, running_smtp() as smtp, \
            running_onautomate_sandbox() as onautomate, \
            running_poologics_sandbox() as poologics, \
            running_rpccrm_sandbox() as rpccrm:  # fmt: skip
        settings = e2e_settings(pg_url, redis_url, sandbox, smtp, onautomate, poologics, rpccrm)
        with embedded_worker(settings, concurrency=4, sweeps=False), \
                embedded_stream_consumer(settings):  # fmt: skip
            app = create_app(settings, dispatch)
            with serve_in_thread(app) as url:
                api = httpx.Client(base_url=url, headers={"x-api-key": CLIENT_KEY}, timeout=30)
                op = httpx.Client(base_url=url, headers={"x-api-key": OPERATOR_KEY}, timeout=30)
                with api, op:
                    yield Service(api, op, sandbox, smtp, settings, onautomate, poologics, rpccrm)


@pytest.fixture
def svc(service) -> Service:
    """The running service with a fresh sandbox and an empty mailbox."""
    service.sandbox.state.reset()
    service.onautomate.state.reset()
    service.poologics.state.reset()
    service.rpccrm.state.reset()
    service.smtp.clear()
    return service


SESSION_COOKIE = "salesaga_console"


def login_token(client: httpx.Client) -> str:
    """The login form's CSRF token (its signed cookie lands in the client's jar)."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)
    assert found is not None
    return found[1]


@contextlib.contextmanager
def operator_client(svc: Service) -> Iterator[httpx.Client]:
    """A console session without a browser: the cookie jar keeps the session cookie."""
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as client:
        form = {"key": OPERATOR_KEY, "next": "/console", "csrf": login_token(client)}
        response = client.post("/console/login", data=form)
        assert response.status_code == 303 and SESSION_COOKIE in client.cookies
        yield client
