"""OnAutomate CRM (API V1.1.1, seed 003): opportunities in pipelines, behind a Bearer token.

settings.py (ONAUTOMATE_* variables), wire.py (the only module with OnAutomate's field names and
response shapes, and every assumption the seed leaves open), client.py (`OnAutomateCrm`, the
OpportunityPipelines port on one pooled httpx client), backend.py (`ONAUTOMATE`, the plug-in),
sandbox/ (a FastAPI app speaking the same wire format, with fault injection).
"""
