"""Beam's own services on loopback ports, for the portable-runner tests: the Python job service and
the external worker pool (each SDK worker a process of its own, as on a cluster); and for the engines
tier, Beam's Flink and Spark job servers and standalone clusters of both."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
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


# Flink and Spark: Beam's job servers (Java, from Maven Central) and standalone clusters on this machine,
# started and stopped by the scripts a user runs (deploy/job-server.sh, deploy/<engine>/cluster.sh).

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def job_server_jar(engine: str) -> str:
    """The path of Beam's `engine` job server, fetched once into the cache; fails (never skips) when Java,
    Maven or the jar is missing."""
    result = subprocess.run([str(DEPLOY / "job-server.sh"), engine], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"deploy/job-server.sh {engine}: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


@contextmanager
def standalone_cluster(engine: str, state: Path) -> Iterator[dict[str, int]]:
    """deploy/<engine>/cluster.sh start, on free ports, with Beam's worker pool in this interpreter's
    environment; stopped when the block ends. Yields the ports."""
    ports = {name: free_port() for name in ("FLINK_REST_PORT", "FLINK_RPC_PORT", "SPARK_MASTER_PORT",
                                            "SPARK_MASTER_WEBUI_PORT", "SPARK_WORKER_WEBUI_PORT", "WORKER_POOL_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "PYTHON": sys.executable,
           "FLINK_CLUSTER_DIR": str(state), "SPARK_CLUSTER_DIR": str(state)}
    script = str(DEPLOY / engine / "cluster.sh")
    started = subprocess.run([script, "start"], capture_output=True, text=True, env=env, timeout=600)
    try:
        if started.returncode != 0:
            pytest.fail(f"deploy/{engine}/cluster.sh start: {started.stderr.strip()[-2000:]}")
        yield ports
    finally:
        subprocess.run([script, "stop"], capture_output=True, env=env, timeout=120)
