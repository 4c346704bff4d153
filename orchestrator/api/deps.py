"""FastAPI dependencies: the process's Deps and dispatcher, and the caller's role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from orchestrator.api.auth import Role, require, role_of
from orchestrator.bootstrap import Deps, Dispatcher


@dataclass(slots=True)
class ApiContext:
    deps: Deps
    dispatch: Dispatcher


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


def caller_role(ctx: ContextDep, x_api_key: Annotated[str | None, Header()] = None) -> Role:
    settings = ctx.deps.settings
    return role_of(x_api_key, clients=settings.api_keys, operators=settings.operator_api_keys)


def operator(role: Annotated[Role, Depends(caller_role)]) -> Role:
    require(role, Role.OPERATOR)
    return role


ClientRole = Annotated[Role, Depends(caller_role)]
OperatorRole = Annotated[Role, Depends(operator)]
