"""Run the service's own commands as real processes for tests: start, wait until healthy, stop."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1
SERVICE_VARS = ("DATABASE_URL", "BROKER_URL", "API_KEYS", "OPERATOR_API_KEYS", "SALESAGA_URL",
                "SALESAGA_API_KEY", "MAIL_BACKEND", "PORT")  # fmt: skip


def die_with_parent() -> None:
    """In the child before exec: be killed when the test process dies, however it dies, so a
    crashed run leaves no service consuming the next run's queues (Linux prctl)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any salesaga setting, plus `extra`. CRM_SANDBOX is on unless
    `extra` says otherwise: a backend without settings runs against the service's sandbox.
    Unbuffered output: a process killed at a test's end has written every line it logged."""
    env = {k: v for k, v in os.environ.items()
           if k not in SERVICE_VARS and not k.startswith(BACKEND_PREFIXES)}  # fmt: skip
    return {**env, "CRM_SANDBOX": "true", "PYTHONUNBUFFERED": "1", **extra}


BACKEND_PREFIXES = ("ZOHO_", "ONAUTOMATE_", "POOLOGICS_", "RPCCRM_", "SMTP_", "CRM_")


def wait_healthy(
    url: str, procs: Sequence[subprocess.Popen], log: Path, timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        alive = all(proc.poll() is None for proc in procs)
        assert alive and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def stop(
    procs: Sequence[subprocess.Popen], sig: int = signal.SIGINT, timeout_s: float = 20
) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running(
    commands: Sequence[Sequence[str | Path]], *, cwd: Path, env: dict[str, str], url: str
) -> Iterator[list[subprocess.Popen]]:
    """Start every command (output to cwd/processes.log), wait for url/healthz, stop on exit."""
    log_path = cwd / "processes.log"
    with log_path.open("a") as log:
        procs = [subprocess.Popen(list(map(str, c)), cwd=cwd, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
                 for c in commands]  # fmt: skip
        try:
            wait_healthy(url, procs, log_path)
            yield procs
        finally:
            stop(procs)
