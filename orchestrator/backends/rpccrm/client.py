"""RpcCrm: the OpportunityTickets port over the method-RPC CRM (seed 001), on one pooled
httpx.AsyncClient.

Every method of the seed is callable (`call`); the flow's port is built on a few of them. The
adapter only sends and translates: groups, bodies, parsing and error mapping live in wire.py.
The Bearer token comes from `Login` with RPCCRM_EMAIL / RPCCRM_PASSWORD and is shared by every
worker through the TokenCache (fetched under its lock): a call answered 401 logs in once more,
passing the rejected token as `stale` so N workers seeing the same 401 log in once, and is
repeated once. Catalogues are cached in this process for RPCCRM_CATALOGUE_TTL_S.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.backends.base import CallObserver, OpenContext
from orchestrator.backends.rpccrm import wire
from orchestrator.backends.rpccrm.settings import RpcCrmSettings
from orchestrator.backends.transport import AiohttpTransport
from orchestrator.crm.errors import NotFound, OutcomeUnknown, PermanentCrmError, TransientCrmError
from orchestrator.crm.opportunity_tickets import (
    Contact,
    Named,
    NewOpportunity,
    NewProduct,
    NewTicket,
    Product,
    TicketCatalogue,
    User,
)
from orchestrator.crm.records import RecordRef
from orchestrator.crm.tokens import CachedToken, TokenCache

BACKEND_NAME = "rpccrm"

__all__ = ["BACKEND_NAME", "RpcCrm", "open_rpccrm"]


async def open_rpccrm(settings: RpcCrmSettings, ctx: OpenContext) -> RpcCrm:
    """An RpcCrm with its pooled client (base_url = settings.url); no call is made yet."""
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    http = httpx.AsyncClient(
        base_url=settings.url.rstrip("/"),
        headers={"Accept": "application/json"},
        timeout=timeout,
        limits=limits,
        transport=AiohttpTransport(limits),
    )
    return RpcCrm(settings, http, tokens=ctx.tokens, on_call=ctx.on_call)


class RpcCrm:
    """OpportunityTickets (and CrmAdapter) over the method-RPC CRM."""

    def __init__(
        self,
        settings: RpcCrmSettings,
        http: httpx.AsyncClient,
        *,
        tokens: TokenCache,
        on_call: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._http = http
        self._tokens = tokens  # shared by every worker (SQL in production)
        self._on_call = on_call
        self._clock = clock
        self._cached: dict[tuple[str, str], tuple[float, Any]] = {}  # (group, method) → data
        # Keyed by instance and user, never by a secret.
        self.cache_key = f"rpccrm:{settings.email}@{settings.url.rstrip('/')}"

    def __repr__(self) -> str:
        return (
            f"RpcCrm(url={self._settings.url!r}, email={self._settings.email!r}, "
            f"profile_id={self._settings.profile_id!r})"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def record_url(self, record: RecordRef) -> str | None:
        template = self._settings.record_url
        if not template:
            return None
        return template.replace("{kind}", record.kind).replace("{id}", quote(record.id, safe=""))

    # --- any method of the seed ---------------------------------------------------------------

    async def call(
        self, method: str, parameters: dict[str, Any] | None = None, *, group: str | None = None
    ) -> dict[str, Any]:
        """Call `method` (in `group` where several groups have it) and return its `response`
        object. `profile_id` is added unless the method takes none. Failures raise."""
        where = wire.group_of(method, group)
        params = dict(parameters or {})
        if method not in wire.NO_PROFILE:
            params.setdefault("profile_id", wire.number(self._settings.profile_id))
        if method == wire.LOGIN:
            return wire.envelope(await self._send(where, method, params, token=None), method)
        token = await self._token()
        response = await self._send(where, method, params, token=token)
        if response.status_code == 401:
            fresh = await self._tokens.refresh(self.cache_key, self._login, stale=token)
            response = await self._send(where, method, params, token=fresh.value)
        try:
            return wire.envelope(response, method)
        except TransientCrmError as exc:
            if method in wire.WRITES and exc.code == "UNEXPECTED_RESPONSE":
                raise OutcomeUnknown(exc.message, code=exc.code, status=exc.status) from exc
            raise

    async def catalogue(self, method: str, *, group: str | None = None, fresh: bool = False) -> Any:
        """A list method's data (RESULT_KEYS), cached for RPCCRM_CATALOGUE_TTL_S."""
        key = (wire.group_of(method, group), method)
        now = self._clock()
        cached = self._cached.get(key)
        if not fresh and cached is not None and cached[0] > now:
            return cached[1]
        data = wire.result(await self.call(method, group=key[0]), method)
        self._cached[key] = (now + self._settings.catalogue_ttl_s, data)
        return data

    # --- OpportunityTickets ---------------------------------------------------------------------

    async def contact_by_email(self, email: str) -> Contact:
        data = await self.call("GetContact", {"search_by": "email", "search_value": email})
        found = wire.contact(data.get("contact"))
        if found is None:
            raise NotFound(f"RPC CRM GetContact: no contact with e-mail {email}", code="NOT_FOUND")
        return found

    async def stages(self) -> tuple[Named, ...]:
        return wire.named_all(await self.catalogue("GetStages"))

    async def users(self) -> tuple[User, ...]:
        return wire.users(await self.catalogue("GetUsers"))

    async def me(self) -> User:
        email = self._settings.email.casefold()
        for candidate in await self.users():
            if candidate.email is not None and candidate.email.casefold() == email:
                return candidate
        raise PermanentCrmError(
            f"RPC CRM: the service's user {self._settings.email} is not among the profile's "
            "users (check RPCCRM_EMAIL and RPCCRM_PROFILE_ID)",
            code="NO_SUCH_USER",
        )

    async def products(self, *, fresh: bool = False) -> tuple[Product, ...]:
        return wire.products(await self.catalogue("GetProducts", fresh=fresh))

    async def ticket_catalogue(self) -> TicketCatalogue:
        return TicketCatalogue(
            origins=wire.named_all(await self.catalogue("GetOrigins", group="tickets")),
            cases=wire.named_all(await self.catalogue("GetCases")),
            priorities=wire.named_all(await self.catalogue("GetPriorities")),
        )

    async def create_product(self, new: NewProduct, *, marker: str) -> Product:
        data = await self.call("CreateProduct", wire.product_params(new, marker=marker))
        self._cached.pop(("products", "GetProducts"), None)
        made = wire.product(data.get("product"))
        if made is None:
            raise OutcomeUnknown(
                "RPC CRM CreateProduct: the answer has no product", code="UNEXPECTED_RESPONSE"
            )
        return made

    async def find_products(self, marker: str) -> tuple[Product, ...]:
        return tuple(
            item
            for item in await self.products(fresh=True)
            if wire.marked_by([item.description], marker)
        )

    async def create_opportunity(self, new: NewOpportunity, *, marker: str) -> str:
        data = await self.call("CreateOpportunity", wire.opportunity_params(new, marker=marker))
        return self._created(data, "CreateOpportunity")

    async def find_opportunity(self, marker: str) -> str | None:
        page, last = 1, 1
        while page <= last:
            params = {"query": marker, "pagination": wire.PAGE_SIZE, "page": page}
            data = await self.call("GetOpportunities", params)
            for item in wire.items(wire.result(data, "GetOpportunities")):
                if wire.marked_by([item.get("title")], marker):
                    return wire.text_id(item.get("id"))
            page, last = page + 1, wire.last_page(data)
        return None

    async def create_ticket(self, new: NewTicket, *, marker: str) -> str:
        data = await self.call("CreateTicket", wire.ticket_params(new, marker=marker))
        return self._created(data, "CreateTicket")

    async def find_ticket(self, marker: str) -> str | None:
        data = await self.call("GetTickets")
        for item in wire.items(wire.result(data, "GetTickets")):
            if wire.marked_by([item.get("description")], marker):
                return wire.text_id(item.get("id"))
        return None

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _created(data: dict[str, Any], method: str) -> str:
        try:
            return wire.record_id(data.get(wire.RESULT_KEYS[method]), method)
        except TransientCrmError as exc:  # written, maybe: the retry looks for it by marker
            raise OutcomeUnknown(exc.message, code=exc.code) from exc

    async def _token(self) -> str:
        cached = await self._tokens.get(self.cache_key)
        if cached is None or not cached.fresh():
            cached = await self._tokens.refresh(self.cache_key, self._login, stale=None)
        return cached.value

    async def _login(self) -> CachedToken:
        password = self._settings.password.get_secret_value()
        params = {"email": self._settings.email, "password": password}
        try:
            data = await self.call(wire.LOGIN, params)
        except PermanentCrmError as exc:
            raise PermanentCrmError(
                f"{exc.message} (check RPCCRM_EMAIL and RPCCRM_PASSWORD)",
                code="LOGIN_FAILED",
                status=exc.status,
            ) from exc
        value, _user = wire.token(data)
        return CachedToken(value, time.time() + self._settings.token_ttl_s)

    async def _send(
        self, group: str, method: str, params: dict[str, Any], *, token: str | None
    ) -> httpx.Response:
        """POST one method, reported to on_call. Not sent: transient. Sent but unanswered:
        OutcomeUnknown for a write, transient for the rest. The answer is not judged here."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        route = f"/{group}"
        status: int | None = None
        started = time.perf_counter()
        try:
            response = await self._http.post(route, json=wire.body(method, params), headers=headers)
            status = response.status_code
        except _NOT_SENT as exc:
            raise TransientCrmError(f"RPC CRM {method}: {exc!r}") from exc
        except httpx.TransportError as exc:
            text = f"RPC CRM {method}: no answer ({exc!r})"
            if method in wire.WRITES:
                raise OutcomeUnknown(text, code="NO_ANSWER") from exc
            raise TransientCrmError(text, code="NO_ANSWER") from exc
        finally:
            if self._on_call is not None:
                self._on_call("POST", f"{route}/{method}", status, time.perf_counter() - started)
        return response


# Failures before the request left this process: the CRM cannot have applied it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
