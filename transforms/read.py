"""Reading shard files: every record accounted for, I/O errors retried, progress on the log.

Each reader instance logs its running totals after every file and every PROGRESS_EVERY_S within a
long one, as one line in PROGRESS_FORMAT. On a terminal `jobs/report/progress.py` turns these lines (from
this process or forwarded from worker processes) into a progress bar; elsewhere they stay log lines.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from typing import Iterator

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.transforms.formats import READERS, ReadOptions
from tokenmill.transforms.formats.common import READ_STAGE, is_io_error, with_relative_paths

LOG = logging.getLogger("tokenmill.read")
NO_DOCUMENTS = "no_documents"
PROGRESS_EVERY_S = 10.0
PROGRESS_FORMAT = "read %d documents, %d text bytes, %d files, %d file bytes (%.0f docs/s) reader=%s"
PROGRESS_PATTERN = re.compile(r"read (?P<documents>\d+) documents, (?P<text_bytes>\d+) text bytes, "
                              r"(?P<files>\d+) files, (?P<file_bytes>\d+) file bytes \([\d.]+ docs/s\) "
                              r"reader=(?P<reader>[\w:-]+)")


class ShardReader:
    """Reads shard files one after another, with running totals on the log.

    `items(source, format, path)` yields the reader's documents, rejects and failures. A content
    error (a corrupt stream, a parser that gives up on a file) becomes one `Failed` for the file; an
    I/O error (the storage failed, not the content) is raised, so that the runner retries the
    bundle instead of the run losing the file for good. When nothing but failures came out of a
    file, its first failure is marked `unread_file`: the ledger counts the files a run lost whole.
    """

    def __init__(self, options: dict[str, ReadOptions]):
        self.options = options
        self.docs = Metrics.counter("read", "documents")
        self.bytes = Metrics.counter("read", "text_bytes")
        self._started = self._last_log = time.monotonic()
        self._count = self._text_bytes = self._files = self._file_bytes = 0
        self._reader = f"{os.getpid()}-{id(self):x}"

    def items(self, source: str, fmt: str, path: str) -> Iterator[Document | Rejected | Failed]:
        read_any = False
        first_failure = None  # held back until the file is known to have given something else
        for result in self._read(source, fmt, path):
            lost = isinstance(result, Failed) and result.kind != NO_DOCUMENTS  # an empty file loses nothing
            if lost and not read_any and first_failure is None:
                first_failure = result
                continue
            if not lost and not read_any:
                read_any = True
                if first_failure is not None:
                    yield first_failure
            yield result
        if first_failure is not None and not read_any:
            yield dataclasses.replace(first_failure, unread_file=True)

    def _read(self, source: str, fmt: str, path: str) -> Iterator[Document | Rejected | Failed]:
        roots = self.options[source].extra.get("roots", ())
        produced = False
        try:
            for result in READERS[fmt](path, source, self.options[source]):
                produced = True
                if isinstance(result, Rejected):
                    with_relative_paths(result.doc, path, roots)
                if isinstance(result, Document):
                    with_relative_paths(result, path, roots)
                    self.docs.inc()
                    self.bytes.inc(len(result.text))
                    self._count += 1
                    self._text_bytes += len(result.text)
                    if time.monotonic() - self._last_log >= PROGRESS_EVERY_S:
                        self._log_progress()
                yield result
        except Exception as err:  # a reader giving up on this content costs this file, not the run
            if is_io_error(err):
                raise
            yield Failed(source, READ_STAGE, type(err).__name__, path, str(err)[:500])
            produced = True
        self._file_done(path)
        if not produced:  # an empty file (or one with no record of the wanted kind) is still accounted for
            yield Failed(source, READ_STAGE, NO_DOCUMENTS, path, "the file holds no document")

    def _file_done(self, path: str):
        self._files += 1
        try:
            matched = FileSystems.match([path])[0].metadata_list
        except IOError:  # gone since it was listed: it counts as done, with no size
            matched = []
        self._file_bytes += matched[0].size_in_bytes if matched else 0
        self._log_progress()

    def _log_progress(self):
        now = time.monotonic()
        self._last_log = now
        LOG.info(PROGRESS_FORMAT, self._count, self._text_bytes, self._files, self._file_bytes,
                 self._count / max(now - self._started, 1e-9), self._reader)
