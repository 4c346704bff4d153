"""FastAPI dependencies: the process's Deps and dispatcher, and the caller's role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from orchestrator.api.auth import Caller, Role, require
from orchestrator.api.errors import ApiError
from orchestrator.api.keys import KeyRing
from orchestrator.api.rate_limit import RateLimiter
from orchestrator.bootstrap import Deps, Dispatcher
from orchestrator.intake import Intake
from orchestrator.messaging.intake import Inbox
from orchestrator.observability.logcontext import bind_key
from orchestrator.store.endings import SagaEndings


@dataclass(slots=True)
class ApiContext:
    deps: Deps
    dispatch: Dispatcher
    endings: SagaEndings  # who waits for a saga's end hears of it here
    keys: KeyRing  # every API key, by digest
    limits: RateLimiter = field(default_factory=RateLimiter)  # per-key request limits
    intake: Intake = field(init=False)  # the one way in, dispatching to the workers
    inbox: Inbox = field(init=False)  # dead-letter replays

    def __post_init__(self) -> None:
        self.intake = self.deps.intake(self.dispatch)
        self.inbox = self.deps.inbox(self.dispatch)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


API_KEY = APIKeyHeader(name="x-api-key", scheme_name="ApiKey", auto_error=False)


async def caller(ctx: ContextDep, x_api_key: Annotated[str | None, Security(API_KEY)]) -> Caller:
    """The key's caller (401 without a valid key), within its request limit (429). Async, so
    that the key's name it binds is on every log line of the request."""
    who = ctx.keys.identify(x_api_key)
    bind_key(who.actor)
    per_min = who.rate_limit_per_min or ctx.deps.settings.key_rate_limit_per_min
    if per_min:
        wait_s = ctx.limits.take(who.name, per_min)
        if wait_s is not None:
            message = (f"Too many requests for API key {who.name}: at most {per_min} a minute;"
                       f" try again in {wait_s} s.")  # fmt: skip
            raise ApiError(429, message, headers={"Retry-After": str(wait_s)})
    return who


def operator(who: Annotated[Caller, Depends(caller)]) -> Caller:
    require(who.role, Role.OPERATOR)
    return who


ClientRole = Annotated[Caller, Depends(caller)]  # any valid key: client or operator
OperatorRole = Annotated[Caller, Depends(operator)]
