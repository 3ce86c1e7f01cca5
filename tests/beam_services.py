"""Beam's own services on loopback ports, for the portable-runner tests: the Python job service and
the external worker pool (each SDK worker a process of its own, as on a cluster)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode}")
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on localhost:{port} after {timeout} s")


def _serve(module: str, port_flag: str) -> Iterator[str]:
    """Run `python -m module port_flag PORT` with this interpreter's folder first on PATH (the pool
    starts its workers by name) until the fixture's scope ends; yields the endpoint."""
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = subprocess.Popen([sys.executable, "-m", module, port_flag, str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"localhost:{port}"
    finally:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def job_service() -> Iterator[str]:
    """Beam's Python job service (the portable runner's server side)."""
    yield from _serve("apache_beam.runners.portability.local_job_service_main", "--port")


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[str]:
    """Beam's worker pool service: it starts each SDK worker the job asks for as its own process."""
    yield from _serve("apache_beam.runners.worker.worker_pool_main", "--service_port")
