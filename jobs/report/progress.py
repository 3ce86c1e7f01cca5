"""A progress bar for local runs attached to a terminal: documents, bytes, rate and ETA.

The read stage logs each reader's running totals (transforms/read.py, PROGRESS_FORMAT). This module
listens to those records, from this process (the in-process FnApiRunner) and from worker processes
(`--workers N`: Beam forwards their log records to the runner's logger below), keeps the latest
totals per reader and redraws one line on stderr twice a second. Progress and ETA count input bytes
against the plan's total. Off a terminal nothing changes: the records stay plain log lines.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional, TextIO


from tokenmill.transforms.read import LOG as READ_LOG
from tokenmill.transforms.read import PROGRESS_PATTERN

# The logger under which Beam's local job service re-logs the records of worker processes.
FORWARDED_LOGGER = "apache_beam.runners.portability.local_job_service"
BAR_WIDTH = 24
REDRAW_EVERY_S = 0.5


def human_bytes(n: float) -> str:
    units = ["B", "kB", "MB", "GB", "TB"]
    step = 0
    while n >= 1000 and step < len(units) - 1:
        n, step = n / 1000, step + 1
    return f"{n:.0f} B" if step == 0 else f"{n:.1f} {units[step]}"


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """The latest totals per reader, summed and drawn as one terminal line."""

    def __init__(self, total_files: int, total_bytes: int, stream: TextIO, clock=time.monotonic):
        self.total_files, self.total_bytes = total_files, total_bytes
        self.stream, self.clock = stream, clock
        self.started = clock()
        self.readers: dict[str, tuple[int, int, int, int]] = {}
        self.lock = threading.Lock()

    def update(self, message: str) -> bool:
        """Take a progress line; False when `message` is not one."""
        match = PROGRESS_PATTERN.search(message)
        if not match:
            return False
        totals = tuple(int(match[k]) for k in ("documents", "text_bytes", "files", "file_bytes"))
        with self.lock:
            self.readers[match["reader"]] = totals
        return True

    def line(self) -> str:
        with self.lock:
            docs, text, files, done = (sum(t[i] for t in self.readers.values()) for i in range(4))
        elapsed = max(self.clock() - self.started, 1e-9)
        fraction = min(done / self.total_bytes, 1.0) if self.total_bytes else files / max(self.total_files, 1)
        filled = int(BAR_WIDTH * fraction)
        if files >= self.total_files:
            eta = "reading done, finishing"
        elif fraction > 0:
            eta = f"ETA {human_duration(elapsed * (1 - fraction) / fraction)}"
        else:
            eta = "ETA –"
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * fraction:3.0f}%  {docs:,} docs  "
                f"{human_bytes(text)}  {docs / elapsed:,.0f} docs/s  {human_bytes(text / elapsed)}/s  "
                f"files {files}/{self.total_files}  {eta}")

    def draw(self) -> None:
        self.stream.write(f"\r{self.line()}\x1b[K")
        self.stream.flush()


class _Feed(logging.Filter):
    """On a logger: progress records go to the bar and no further; others pass from `min_level` up."""

    def __init__(self, bar: ProgressBar, min_level: int):
        super().__init__()
        self.bar, self.min_level = bar, min_level

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.bar.update(record.getMessage()) and record.levelno >= self.min_level


@contextmanager
def progress_bar(total_files: int, total_bytes: int,
                 stream: Optional[TextIO] = None) -> Iterator[Optional[ProgressBar]]:
    """A bar over reading `total_files` files of `total_bytes` while the block runs, when `stream`
    (default stderr) is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    bar = ProgressBar(total_files, total_bytes, stream)
    forwarded = logging.getLogger(FORWARDED_LOGGER)
    feeds = [(READ_LOG, _Feed(bar, logging.NOTSET)), (forwarded, _Feed(bar, forwarded.getEffectiveLevel()))]
    saved_level = forwarded.level
    forwarded.setLevel(logging.INFO)
    for logger, feed in feeds:
        logger.addFilter(feed)
    stop = threading.Event()

    def redraw():
        while not stop.wait(REDRAW_EVERY_S):
            bar.draw()

    ticker = threading.Thread(target=redraw, name="tokenmill-progress", daemon=True)
    ticker.start()
    try:
        yield bar
    finally:
        stop.set()
        ticker.join()
        for logger, feed in feeds:
            logger.removeFilter(feed)
        forwarded.setLevel(saved_level)
        bar.draw()
        stream.write("\n")
        stream.flush()
