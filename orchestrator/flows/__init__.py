"""Saga definitions, one module per business flow. FLOWS names each by its flow name.

A flow names its backend (orchestrator/backends/); the composition root binds it to that
backend's adapter, and only flows whose backend is in use on this service can be started.
"""

from __future__ import annotations

from typing import Any

from orchestrator.flows.onautomate_opportunity import ONAUTOMATE_OPPORTUNITY
from orchestrator.flows.poologics_opportunity import POOLOGICS_OPPORTUNITY
from orchestrator.flows.rpccrm_opportunity_ticket import RPCCRM_OPPORTUNITY_TICKET
from orchestrator.flows.zoho_sale import ZOHO_SALE
from orchestrator.saga.definition import Flow

FLOWS: dict[str, Flow[Any, Any]] = {
    flow.name: flow
    for flow in (
        ZOHO_SALE,
        ONAUTOMATE_OPPORTUNITY,
        POOLOGICS_OPPORTUNITY,
        RPCCRM_OPPORTUNITY_TICKET,
    )
}

# The flow of the PLG API (seed 002): POST /createSales and the salesaga.create_sales message.
PLG_FLOW = ZOHO_SALE.name
