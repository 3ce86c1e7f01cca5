"""A command in a fresh process, measured as the benchmarks report it: wall seconds, the CPU seconds of
its whole process tree, and the tree's peak resident memory, sampled every 50 ms from /proc."""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # wall
    cpu: float      # user + system seconds of the whole tree
    peak: int       # bytes


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command: list[str], env: dict[str, str], stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL) -> Measured:
    """Run `command` to its end with `env` added to this process's environment."""
    cpu_before, started = cpu_seconds(), time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env={**os.environ, **env})
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, errors = process.communicate()
    sampler.join()
    return Measured(process.returncode, out or "", errors or "", time.perf_counter() - started,
                    cpu_seconds() - cpu_before, peak[0])
