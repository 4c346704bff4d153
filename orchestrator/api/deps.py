"""FastAPI dependencies: the process's Deps and dispatcher, and the caller's role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request

from orchestrator.api.auth import Caller, Role, identify, require
from orchestrator.bootstrap import Deps, Dispatcher
from orchestrator.intake import Intake
from orchestrator.messaging.intake import Inbox
from orchestrator.store.endings import SagaEndings


@dataclass(slots=True)
class ApiContext:
    deps: Deps
    dispatch: Dispatcher
    endings: SagaEndings  # who waits for a saga's end hears of it here
    intake: Intake = field(init=False)  # the one way in, dispatching to the workers
    inbox: Inbox = field(init=False)  # dead-letter replays

    def __post_init__(self) -> None:
        self.intake = self.deps.intake(self.dispatch)
        self.inbox = self.deps.inbox(self.dispatch)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


def caller(ctx: ContextDep, x_api_key: Annotated[str | None, Header()] = None) -> Caller:
    settings = ctx.deps.settings
    return identify(x_api_key, clients=settings.api_keys, operators=settings.operator_api_keys)


def operator(who: Annotated[Caller, Depends(caller)]) -> Caller:
    require(who.role, Role.OPERATOR)
    return who


ClientRole = Annotated[Caller, Depends(caller)]  # any valid key: client or operator
OperatorRole = Annotated[Caller, Depends(operator)]
