"""The Poologics sandbox: app.py (the FastAPI app), data.py (state, seed, write rules),
faults.py (fault injection), webhooks.py (event delivery with retries)."""
