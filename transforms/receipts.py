"""Receipts: what pass 1 of curation gave for one input file, kept so that a rerun need not read it again.

A receipt is one zstd stream of pickles (our own file, in the run's staging folder): a header (the
input file as listed and a fingerprint of the settings, see transforms/staging.py), then every
(tag, value) the staging step output for that file, in order. It is written last, after the staged
shard and its signatures, and under a temporary name (transforms/files.py), so a receipt that exists
is complete; a rerun whose header matches replays it instead of reading the file.
"""
from __future__ import annotations

import pickle
from typing import Iterator

import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from tokenmill.transforms.files import AtomicFile


def receipt_path(staging: str, index: int) -> str:
    return f"{staging.rstrip('/')}/receipts/{index:05d}.pickle.zst"


class ReceiptWriter:
    """A receipt being written: its header, then each (tag, value) written. As a context manager it is
    committed when the block ends and discarded when the block raises."""

    def __init__(self, path: str, header: dict):
        self.file = AtomicFile(path)
        self.stream = zstandard.ZstdCompressor().stream_writer(self.file.sink, closefd=False)
        self.write(header)

    def write(self, record) -> None:
        self.stream.write(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))

    def __enter__(self) -> "ReceiptWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.stream.close()  # ends the zstd frame
        except BaseException:
            if kind is None:
                self.file.discard()
                raise
        self.file.__exit__(kind, error, trace)


def _records(path: str) -> Iterator:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        unpickler = pickle.Unpickler(zstandard.ZstdDecompressor().stream_reader(handle))
        while True:
            try:
                yield unpickler.load()
            except EOFError:
                return


def receipt_matches(path: str, header: dict) -> bool:
    """Whether a receipt with this very header is at `path`."""
    if not FileSystems.exists(path):
        return False
    try:
        return next(_records(path), None) == header
    except (pickle.UnpicklingError, zstandard.ZstdError, ValueError):  # not one of ours: stage again
        return False


def replayed(path: str) -> Iterator[TaggedOutput]:
    """The outputs a receipt recorded, in order."""
    records = _records(path)
    next(records)  # the header
    for tag, value in records:
        yield TaggedOutput(tag, value)
