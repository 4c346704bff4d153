"""ZohoAuth: httpx auth flow that adds `Authorization: Zoho-oauthtoken …` from a shared TokenCache.

Refreshes (refresh-token grant) before expiry, and once more on a 401 INVALID_TOKEN, then retries
the request once. Secrets (client secret, refresh token, access tokens) never reach a log line,
an exception message or a repr.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from orchestrator.backends.zoho import wire
from orchestrator.crm.errors import TransientCrmError
from orchestrator.crm.tokens import CachedToken, TokenCache

HEADER_PREFIX = "Zoho-oauthtoken "


class ZohoAuth(httpx.Auth):
    """Shares one access token between every worker through `cache` (Zoho allows 10 refreshes
    per 10 minutes), keyed by accounts server and client id, never by a secret."""

    def __init__(
        self,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        cache: TokenCache,
        http: httpx.AsyncClient,
    ) -> None:
        self._token_url = f"{accounts_url.rstrip('/')}/oauth/v2/token"
        self._form = wire.token_form(client_id, client_secret, refresh_token)
        self._cache = cache
        self._http = http  # a client for the accounts server, without this auth
        self.cache_key = f"zoho:{client_id}@{accounts_url.rstrip('/')}"

    def __repr__(self) -> str:
        return f"ZohoAuth(cache_key={self.cache_key!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        del request
        raise RuntimeError("ZohoAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.access_token()
        request.headers["Authorization"] = HEADER_PREFIX + token
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()  # to tell a rejected token (INVALID_TOKEN) from a scope problem
        if wire.rejected_token(response):
            # Expired early or revoked: refresh unless another worker already did, retry once.
            fresh = await self._cache.refresh(self.cache_key, self._fetch, stale=token)
            request.headers["Authorization"] = HEADER_PREFIX + fresh.value
            yield request

    async def access_token(self) -> str:
        """The shared token, refreshed first when it is missing or close to expiry."""
        cached = await self._cache.get(self.cache_key)
        if cached is None or not cached.fresh():
            cached = await self._cache.refresh(self.cache_key, self._fetch, stale=None)
        return cached.value

    async def _fetch(self) -> CachedToken:
        try:
            response = await self._http.post(self._token_url, data=self._form)
        except httpx.TransportError as exc:
            # The exception names the URL only; the form with the secrets is never formatted.
            raise TransientCrmError(f"Zoho token endpoint unreachable: {exc!r}") from exc
        return wire.cached_token(response)
