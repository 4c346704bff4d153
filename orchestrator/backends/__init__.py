"""The CRM backends, one package each; BACKENDS is the one list the composition root reads.

Adding a CRM: a package here (client, wire mapping, settings, sandbox, `backend.py`), its entry
below, and its flow in orchestrator/flows/. docs/backends.md walks through it.
"""

from __future__ import annotations

from typing import Any

from orchestrator.backends.base import CrmBackend
from orchestrator.backends.onautomate.backend import ONAUTOMATE
from orchestrator.backends.poologics.backend import POOLOGICS
from orchestrator.backends.rpccrm.backend import RPCCRM
from orchestrator.backends.zoho.backend import ZOHO

BACKENDS: tuple[CrmBackend[Any], ...] = (ZOHO, ONAUTOMATE, POOLOGICS, RPCCRM)
