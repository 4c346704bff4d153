"""Poologics CRM (an Odoo 15 derivative, API 1.0.0, seed 000): leads and contacts behind an API
key fetched with login and password.

settings.py (POOLOGICS_* variables), wire.py (the only module with Poologics' routes, field
names, response shapes and error messages, and every assumption the seed leaves open),
client.py (`PoologicsCrm`, the LeadPipeline port on one pooled httpx client, the key shared
through the TokenCache), backend.py (`POOLOGICS`, the plug-in), sandbox/ (a FastAPI app speaking
the same wire format, with webhooks and fault injection).
"""
