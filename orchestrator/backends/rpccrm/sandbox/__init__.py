"""The method-RPC CRM sandbox (seed 001): app.py (the FastAPI app), data.py (state, tokens,
dispatch), seed.py (the seed records and their ids), rules.py (Laravel's validation messages),
reads.py and writes.py (the methods), faults.py (fault injection)."""
