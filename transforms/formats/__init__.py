"""Shard formats: one plain generator per format turning a file into documents.

A reader yields `Document`s, `Rejected` documents (too large, not text) and `Failed` records
(a corrupt gzip member, a truncated WARC record, a line that is not JSON); it never raises for
bad content, so one bad shard cannot stop a run. Files open through Beam's FileSystems, so
local, gs://, s3:// and hdfs:// paths work alike.
"""
from __future__ import annotations

from typing import Callable, Iterator, Union

from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.transforms.formats.book import read_book
from tokenmill.transforms.formats.code import read_code
from tokenmill.transforms.formats.common import ReadOptions
from tokenmill.transforms.formats.jsonl import read_jsonl
from tokenmill.transforms.formats.latex import read_latex
from tokenmill.transforms.formats.mediawiki import read_mediawiki
from tokenmill.transforms.formats.parquet import read_parquet
from tokenmill.transforms.formats.text import read_text
from tokenmill.transforms.formats.warc import read_warc, read_wet

ReadResult = Union[Document, Rejected, Failed]
Reader = Callable[[str, str, ReadOptions], Iterator[ReadResult]]

READERS: dict[str, Reader] = {
    "warc": read_warc,
    "wet": read_wet,
    "jsonl": read_jsonl,
    "text": read_text,
    "book": read_book,
    "mediawiki": read_mediawiki,
    "code": read_code,
    "latex": read_latex,
    "parquet": read_parquet,
}

__all__ = ["READERS", "ReadOptions", "ReadResult", "Reader"]
