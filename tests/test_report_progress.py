"""Progress on a terminal: a bar with documents, bytes, rate and ETA; plain log lines otherwise."""
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from tokenmill.jobs.report.progress import ProgressBar, human_bytes, human_duration
from tokenmill.transforms.read import PROGRESS_FORMAT

REPO = Path(__file__).resolve().parents[1]


def curate_args(out):
    return [sys.executable, "-m", "tokenmill", "curate", "--sample", "--output", str(out)]


def run_on_a_terminal(args) -> tuple[int, str]:
    """Run `args` with stderr on a pseudo-terminal; returns the exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    return process.wait(timeout=60), shown.decode("utf-8", "replace")


def test_a_terminal_gets_a_bar_that_ends_at_every_document(tmp_path):
    code, shown = run_on_a_terminal(curate_args(tmp_path / "out"))
    assert code == 0, shown[-2000:]
    ledger = json.loads((tmp_path / "out" / "ledger.json").read_text())
    at_read = [n for part in ("removed", "errors") for per in ledger[part].values()
               for key, n in per.items() if key.startswith("read/")]
    read = sum(ledger["input"].values()) - sum(at_read)  # documents the readers produced
    final = [frame for frame in shown.split("\r") if "%" in frame][-1]
    assert re.search(rf"\[#{{24}}\] 100%  {read:,} docs  [\d.]+ [kM]B  [\d,]+ docs/s  [\d.]+ [kM]?B/s  files 2/2", final)
    assert "tokenmill.read" not in shown  # the bar replaces the log lines


def test_elsewhere_progress_stays_plain_log_lines(tmp_path):
    result = subprocess.run(curate_args(tmp_path / "out"), capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "tokenmill.read read" in line]
    assert len(lines) == 2  # one per file
    assert "\r" not in result.stderr and "ETA" not in result.stderr


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_bar_sums_readers_and_extrapolates_the_eta():
    clock = Clock()
    bar = ProgressBar(total_files=4, total_bytes=4_000_000, stream=io.StringIO(), clock=clock)
    assert "ETA –" in bar.line()
    clock.now += 10
    assert bar.update(PROGRESS_FORMAT % (600, 3_000_000, 1, 1_000_000, 60.0, "11-a"))
    assert bar.update(PROGRESS_FORMAT % (400, 2_000_000, 1, 1_000_000, 40.0, "12-b"))
    assert bar.update("Worker: severity: INFO message: \"" + PROGRESS_FORMAT % (500, 2_500_000, 1, 1_000_000, 50.0,
                                                                             "12-b") + "\" log_location: \"x\"")
    assert not bar.update("read something else")
    line = bar.line()
    assert line.startswith(f"[{'#' * 12}{'.' * 12}]  50%  1,100 docs  5.5 MB  110 docs/s  550.0 kB/s  files 2/4")
    assert line.endswith("ETA 0:10")  # half the bytes in 10 s: 10 s to go
    bar.update(PROGRESS_FORMAT % (1000, 5_000_000, 3, 3_000_000, 50.0, "12-b"))
    assert bar.line().endswith("files 4/4  reading done, finishing")


def test_human_units():
    assert [human_bytes(n) for n in (512, 1_500, 2_345_678, 7e12)] == ["512 B", "1.5 kB", "2.3 MB", "7.0 TB"]
    assert [human_duration(s) for s in (9, 75, 3725)] == ["0:09", "1:15", "1:02:05"]
