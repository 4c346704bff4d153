"""Child processes of the benchmark: a clean environment, start, wait until up, stop — always.

Every child runs in its own session (its group is signalled whole: Celery's children too) and
dies with the benchmark (PR_SET_PDEATHSIG), so even a SIGKILLed run leaves nothing behind. On a
normal exit, Ctrl-C or SIGTERM, `stop_all` ends what is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import httpx

BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1
# Settings of a developer's shell that must not reach the processes under test.
SERVICE_VARS = ("DATABASE_URL", "BROKER_URL", "API_KEYS", "OPERATOR_API_KEYS", "SALESAGA_URL",
                "SALESAGA_API_KEY", "MAIL_BACKEND", "PORT", "CELERY_QUEUE", "PUBLIC_URL",
                "RESULT_BACKEND_URL", "STREAM_URL", "SYNC_WAIT_S", "LOG_LEVEL", "LOG_JSON",
                "WORKER_CONCURRENCY", "WORKER_SAGAS", "DBOS_SYSTEM_DATABASE_URL")  # fmt: skip
PREFIXES = ("ZOHO_", "ONAUTOMATE_", "POOLOGICS_", "RPCCRM_", "SMTP_", "CRM_", "MAIL_", "DBOS_")

_running: list[subprocess.Popen[bytes]] = []


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any salesaga (or DBOS) setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in SERVICE_VARS and not k.startswith(PREFIXES)}  # fmt: skip
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    args: Sequence[str],
    *,
    env: dict[str, str],
    log: Path,
    cwd: Path | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `args` (a command in the venv's bin/ or `python -m …`), stderr to `log`."""
    command = [str(BIN / args[0]) if (BIN / args[0]).exists() else args[0], *args[1:]]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=stdout if stdout is not None else out,
            stderr=out,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    _running.append(proc)
    return proc


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout_s: float = 15.0) -> None:
    """SIGTERM to each process group, then SIGKILL to whatever is left after `timeout_s`."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):  # a child the leader left behind
            os.killpg(proc.pid, signal.SIGKILL)
        if proc in _running:
            _running.remove(proc)


def stop_all() -> None:
    stop(list(reversed(_running)))


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup() -> None:
    """Stop every child on exit; SIGTERM and SIGHUP unwind like Ctrl-C (finally blocks run)."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


def wait_http(
    url: str, procs: Sequence[subprocess.Popen[bytes]], log: Path, timeout_s: float = 60.0
) -> None:
    """Until `url` answers 200; fails at once when one of `procs` died (showing its log)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        dead = [p.args for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{url} did not come up (dead: {dead})\n{tail}")
        time.sleep(0.1)
