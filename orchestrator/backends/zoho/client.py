"""ZohoCrm: the SalesCrm port over Zoho CRM's REST API (v7/v8), on one pooled httpx.AsyncClient.

The adapter only sends and translates: bodies, parsing and error mapping live in wire.py, tokens
in auth.py. Every create sends `"trigger": []` and every delete `wf_trigger=false`, so no CRM
workflow fires for a record a rollback may delete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from orchestrator.backends.transport import AiohttpTransport
from orchestrator.backends.zoho import wire
from orchestrator.backends.zoho.auth import ZohoAuth
from orchestrator.crm.errors import NotFound, OutcomeUnknown, PermanentCrmError, TransientCrmError
from orchestrator.crm.protocol import (
    Account,
    Contact,
    OrderLine,
    PricedLine,
    PricedOrder,
    RecordKind,
    RecordRef,
)
from orchestrator.crm.tokens import TokenCache


@dataclass(frozen=True, slots=True, kw_only=True)
class ZohoConfig:
    """Where and how to reach one Zoho org. Secrets are plain strings kept out of repr."""

    accounts_url: str  # e.g. https://accounts.zoho.eu (no /oauth/v2/token)
    api_domain: str  # e.g. https://www.zohoapis.eu (no /crm/v7)
    api_version: str = "v7"
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    max_connections: int = 20
    deal_stage: str = "Qualification"
    deal_pipeline: str = ""  # "" = the org has no pipelines on Deals
    closing_days: int = 30  # Closing_Date = today + closing_days
    record_url: str = ""  # a template with {module} and {id}; "" = no links

    @property
    def base_url(self) -> str:
        return f"{self.api_domain.rstrip('/')}/crm/{self.api_version}"


CallObserver = Callable[[str, str, int | None, float], None]
"""Told of every API call: (method, path, HTTP status or None without an answer, seconds).
The same shape as orchestrator.backends.base.CallObserver."""


async def open_zoho_crm(
    config: ZohoConfig, tokens: TokenCache, *, on_call: CallObserver | None = None
) -> ZohoCrm:
    """A ZohoCrm with its pooled API client and a small client for the accounts server."""
    timeout = httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)
    token_limits = httpx.Limits(max_connections=2)
    token_http = httpx.AsyncClient(
        timeout=timeout, limits=token_limits, transport=AiohttpTransport(token_limits)
    )
    auth = ZohoAuth(
        accounts_url=config.accounts_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        refresh_token=config.refresh_token,
        cache=tokens,
        http=token_http,
    )
    limits = httpx.Limits(
        max_connections=config.max_connections, max_keepalive_connections=config.max_connections
    )
    http = httpx.AsyncClient(
        base_url=config.base_url,
        auth=auth,
        timeout=timeout,
        limits=limits,
        headers={"Accept": "application/json"},
        transport=AiohttpTransport(limits),
    )
    return ZohoCrm(config, http, token_http=token_http, on_call=on_call)


class ZohoCrm:
    """SalesCrm (and CrmRecords, ContactDirectory) over Zoho CRM."""

    def __init__(
        self,
        config: ZohoConfig,
        http: httpx.AsyncClient,
        *,
        token_http: httpx.AsyncClient | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self._config = config
        self._on_call = on_call  # e.g. a latency histogram
        self._http = http  # base_url {api_domain}/crm/{version}, ZohoAuth, timeouts
        self._token_http = token_http

    def __repr__(self) -> str:
        return f"ZohoCrm(base_url={self._config.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._token_http is not None:
            await self._token_http.aclose()

    def record_url(self, ref: RecordRef) -> str | None:
        """A link to the record in Zoho's UI: org-specific, so only with ZOHO_RECORD_URL."""
        module = wire.MODULES.get(RecordKind(ref.kind)) if ref.kind in _KINDS else None
        if not self._config.record_url or module is None:
            return None
        return self._config.record_url.format(module=module, id=ref.id)

    # --- ContactDirectory -----------------------------------------------------------------------

    async def find_contact_by_email(self, email: str) -> Contact | None:
        response = await self._send("GET", f"/{wire.CONTACTS}/search", params={"email": email})
        record = wire.pick_by_email(wire.records(response), email)
        return None if record is None else wire.contact(record)

    async def get_account(self, account_id: str) -> Account:
        record = await self._get(wire.ACCOUNTS, account_id)
        if record is None:
            raise NotFound(f"account {account_id} not found", code="NOT_FOUND", status=204)
        return wire.account(record)

    # --- SalesCrm -------------------------------------------------------------------------------

    async def price_order(self, contact_id: str, lines: Sequence[OrderLine]) -> PricedOrder:
        """Contact, then its account and every product concurrently."""
        contact = await self._get_contact(contact_id)
        if contact.account_id is None:
            raise NotFound(f"contact {contact_id} has no account", code="NO_ACCOUNT")
        product_ids = list(dict.fromkeys(line.product_id for line in lines))
        account, products = await asyncio.gather(
            self.get_account(contact.account_id), self._get_products(product_ids)
        )
        by_id = dict(zip(product_ids, products, strict=True))
        priced = tuple(_priced(by_id[line.product_id], line) for line in lines)
        return PricedOrder(contact=contact, account=account, lines=priced)

    async def create_deal(self, order: PricedOrder, *, marker: str) -> RecordRef:
        closing = date.today() + timedelta(days=self._config.closing_days)
        record = wire.deal_record(
            order,
            marker,
            stage=self._config.deal_stage,
            pipeline=self._config.deal_pipeline,
            closing_date=closing,
        )
        return await self._create(RecordKind.DEAL, record)

    async def create_quote(self, order: PricedOrder, *, deal: RecordRef, marker: str) -> RecordRef:
        return await self._create(
            RecordKind.QUOTE, wire.quote_record(order, marker, deal_id=deal.id)
        )

    async def create_sales_order(
        self, order: PricedOrder, *, deal: RecordRef, quote: RecordRef, marker: str
    ) -> RecordRef:
        record = wire.sales_order_record(order, marker, deal_id=deal.id, quote_id=quote.id)
        return await self._create(RecordKind.SALES_ORDER, record)

    # --- CrmRecords -----------------------------------------------------------------------------

    async def find(self, kind: str, marker: str) -> RecordRef | None:
        """The record whose name field is exactly the one create_* wrote for `marker`.

        A COQL query, not the search API: search lags writes (a record created a moment ago
        may answer 204), COQL reads live records, so a redelivered step finds what the earlier
        attempt created. Needs the OAuth scope ZohoCRM.coql.READ."""
        zoho_kind = RecordKind(kind)
        body = wire.find_query(zoho_kind, marker)
        response = await self._send("POST", wire.COQL_PATH, json=body)
        record_id = wire.found_id(response, zoho_kind, marker)
        return None if record_id is None else RecordRef(kind, record_id)

    async def delete_if_present(self, record: RecordRef) -> None:
        """Delete; Zoho's INVALID_DATA ("record not deleted": already gone) counts as done once
        a read confirms the record is gone. Raises PermanentCrmError when it is still there."""
        module = wire.MODULES[RecordKind(record.kind)]
        path = f"/{module}/{record.id}"
        try:
            wire.written_id(await self._send("DELETE", path, params={"wf_trigger": "false"}))
        except PermanentCrmError as exc:
            if exc.code != "INVALID_DATA":
                raise
            if await self._get(module, record.id) is not None:
                raise PermanentCrmError(
                    f"{record.kind} {record.id} still exists after {exc.message}",
                    code=exc.code,
                    status=exc.status,
                ) from exc

    # --- helpers --------------------------------------------------------------------------------

    async def _get_contact(self, contact_id: str) -> Contact:
        record = await self._get(wire.CONTACTS, contact_id)
        if record is None:
            raise NotFound(f"contact {contact_id} not found", code="NOT_FOUND", status=204)
        return wire.contact(record)

    async def _get_product(self, product_id: str) -> wire.Product:
        record = await self._get(wire.PRODUCTS, product_id)
        if record is None:
            raise NotFound(f"product {product_id} not found", code="NOT_FOUND", status=204)
        return wire.product(record)

    async def _get_products(self, product_ids: Sequence[str]) -> list[wire.Product]:
        return await asyncio.gather(*(self._get_product(pid) for pid in product_ids))

    async def _get(self, module: str, record_id: str) -> dict[str, Any] | None:
        return wire.first_record(await self._send("GET", f"/{module}/{record_id}"))

    async def _create(self, kind: RecordKind, record: dict[str, Any]) -> RecordRef:
        body = wire.insert_body(record)
        response = await self._send("POST", f"/{wire.MODULES[kind]}", json=body)
        return RecordRef(kind, wire.written_id(response))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call; network trouble is transient, any HTTP error goes through wire.crm_error."""
        status: int | None = None  # None: no answer came
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, params=params, json=json)
            status = response.status_code
        except _NOT_SENT as exc:
            raise TransientCrmError(f"{method} {path}: {exc!r}") from exc
        except httpx.TransportError as exc:  # sent, no answer: Zoho may still apply it
            raise OutcomeUnknown(f"{method} {path}: {exc!r}") from exc
        finally:
            if self._on_call is not None:
                self._on_call(method, path, status, time.perf_counter() - started)
        if response.status_code >= 400:
            raise wire.crm_error(response)
        return response


_KINDS = frozenset(RecordKind)

# Failures before the request left this process: the CRM cannot have applied it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _priced(product: wire.Product, line: OrderLine) -> PricedLine:
    if not product.active:
        raise PermanentCrmError(
            f"product {product.id} ({product.name}) is inactive", code="INACTIVE_PRODUCT"
        )
    if product.unit_price is None:
        raise PermanentCrmError(f"product {product.id} has no Unit_Price", code="NO_PRICE")
    return PricedLine(
        product_id=product.id,
        product_name=product.name,
        quantity=line.quantity,
        unit_price=product.unit_price,
    )
