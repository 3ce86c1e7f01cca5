"""Files written whole or not at all: under a temporary name beside the final one, renamed when complete.

Every file a run writes goes through `AtomicFile` (Beam's FileSystems, so local folders and gs://,
s3://, hdfs:// alike). A failed, retried or speculative bundle leaves at most a temporary file, never
a partial file under a final name; a second attempt's rename replaces the first's whole file with
its own (the same bytes: outputs depend only on their inputs). Temporary names start with an
underscore and end in `.tmp` (`_part-00003-0000.parquet.<random>.tmp`), so `*.parquet` globs, Spark
and Hadoop pass them by, and `sweep` removes what a killed process left behind.
"""
from __future__ import annotations

import uuid
from typing import IO

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: str) -> str:
    """A fresh temporary name in `path`'s folder."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/_{name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"


class AtomicFile:
    """A file being written under a temporary name: `commit()` renames it to `path`, `discard()`
    deletes it. As a context manager it commits when the block ends and discards when it raises."""

    def __init__(self, path: str):
        self.path = path
        self.temporary = temporary_name(path)
        self.sink: IO[bytes] = FileSystems.create(self.temporary)

    def write(self, data: bytes) -> int:
        return self.sink.write(data)

    def commit(self) -> str:
        self.sink.close()
        replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        try:
            if not self.sink.closed:
                self.sink.close()
        finally:
            if FileSystems.exists(self.temporary):
                FileSystems.delete([self.temporary])

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def write_file(path: str, data: bytes) -> str:
    """`data` as the file `path`, written atomically; returns `path`."""
    with AtomicFile(path) as sink:
        sink.write(data)
    return path


def read_lines(path: str) -> list[str]:
    """The lines of the text file `path` (any of Beam's file systems), without their line ends."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read().decode().splitlines()


def replace(source: str, destination: str) -> None:
    """Rename `source` to `destination`, replacing a file already there (local and object-store
    renames replace it; HDFS refuses, so it is deleted first there)."""
    try:
        FileSystems.rename([source], [destination])
    except BeamIOError:
        if not FileSystems.exists(destination):
            raise
        FileSystems.delete([destination])
        FileSystems.rename([source], [destination])


def sweep(folder: str) -> None:
    """Delete the temporary files a killed writer left anywhere under `folder`."""
    folder = folder.rstrip("/")
    patterns = [f"{folder}/_*{TEMPORARY_SUFFIX}", f"{folder}/**/_*{TEMPORARY_SUFFIX}"]
    doomed = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
    if doomed:
        FileSystems.delete(doomed)
