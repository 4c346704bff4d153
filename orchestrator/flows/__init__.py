"""Saga definitions, one module per business flow. FLOWS names each by its flow name."""

from __future__ import annotations

from typing import Any

from orchestrator.flows.zoho_sale import ZOHO_SALE
from orchestrator.saga.definition import Flow

FLOWS: dict[str, Flow[Any, Any]] = {flow.name: flow for flow in (ZOHO_SALE,)}
