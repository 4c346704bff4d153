"""Throughput benchmark: salesaga against a plain httpx script and DBOS Transact.

    scripts/bench                       # the default run (see docs/performance.md)
    .venv/bin/python -m bench.throughput --help

Every engine makes the same Zoho calls against one Zoho sandbox process with a fixed latency per
call; the figures land in bench/results/.
"""
