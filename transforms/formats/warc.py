"""WARC responses (HTML → main text with resiliparse or trafilatura) and WET conversion records, via FastWARC.

HTTP bodies are decoded (chunked transfer coding, gzip/deflate/br content coding,
`formats/http_body.py`) before extraction; a body that does not decode is one failure
(`read/undecodable_body`). A corrupt gzip member is recorded as one failure and reading resumes at the next gzip member
(Common Crawl writes one member per record), so the rest of the shard still counts. A gzip stream
that ends inside a member (a download cut short) is a `truncated_gzip` failure, although FastWARC
stops there without a word.
"""
from __future__ import annotations

import zlib
from typing import IO, Iterator

from fastwarc.warc import ArchiveIterator, WarcRecordType

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.filters.extract.html import html_to_text
from tokenmill.transforms.formats.common import (READ_STAGE, ReadOptions, content_error, decode_text, looks_binary,
                                                 open_raw, reject_at_read)
from tokenmill.transforms.formats.http_body import UndecodableBody, decode_body

GZIP_MAGIC = b"\x1f\x8b\x08"
# Pages whose HTTP type says they are not text are skipped (PDFs and images need their own extractor).
TEXT_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


def read_warc(path: str, source: str, options: ReadOptions) -> Iterator:
    """Documents from the HTTP 200 HTML responses of a WARC file (option `extractor`: resiliparse,
    the default, or trafilatura; checked with the config, pipeline/stages.py)."""
    yield from _read_records(path, source, options, WarcRecordType.response)


def read_wet(path: str, source: str, options: ReadOptions) -> Iterator:
    """Documents from the conversion (already extracted text) records of a WET file."""
    yield from _read_records(path, source, options, WarcRecordType.conversion)


def _read_records(path: str, source: str, options: ReadOptions, record_type) -> Iterator:
    with open_raw(path) as stream:
        offset = 0
        while offset is not None:
            start = offset
            offset, parsed, failure, last = yield from _read_from(stream, offset, path, source, options, record_type)
            if failure is not None:
                yield failure
            if offset is None and failure is None and not _gzip_ends_cleanly(stream, last if parsed else start):
                yield Failed(source, READ_STAGE, "truncated_gzip", f"{path}@{last}",
                             "the gzip stream ends inside a member")


def _read_from(stream: IO[bytes], offset: int, path: str, source: str, options: ReadOptions, record_type):
    """Read records from `offset`. Returns (where to resume or None at the end, records parsed, the
    failure to count or None, the offset of the last record read).

    FastWARC reads past the end of a record's gzip member before it hands the record over, so a
    damaged member can raise while the iterator moves on from the whole record before it. Then
    nothing is lost yet: reading resumes where that record's member ends, and the damaged member
    counts as one failure when it is read itself."""
    stream.seek(offset)
    last, parsed = offset, 0
    records = iter(ArchiveIterator(stream, parse_http=record_type == WarcRecordType.response))
    try:
        while True:
            try:
                record = next(records)
            except StopIteration:
                return None, parsed, None, last
            except OSError:
                end = _member_end(stream, last) if parsed else None
                if end is None:
                    raise
                return end, parsed, None, last
            last = record.stream_pos  # FastWARC counts from the start of the file, not from `offset`
            parsed += 1
            if record.record_type == record_type:
                yield from _record_to_document(record, path, source, options, record_type, last)
    except OSError as err:
        kind = "corrupt_gzip" if "zip" in str(content_error(err)).lower() else "malformed_warc"
        failure = Failed(source, READ_STAGE, kind, f"{path}@{last}", str(err))
        return _next_gzip_member(stream, last + 1), parsed, failure, last


def _record_to_document(record, path, source, options, record_type, position) -> Iterator:
    record_id = (record.record_id or "").strip("<>") or derived_id(path, position)
    url = (record.headers.get("WARC-Target-URI") or "").strip("<>") or None
    meta = {"path": path, "warc_date": record.headers.get("WARC-Date")}
    if record.content_length > options.max_document_bytes:
        yield reject_at_read(Document(record_id, source, "", url, meta=meta), "too_large")
        return
    body = record.reader.read()
    expected = record.content_length
    if record_type == WarcRecordType.response and record.http_headers is not None:
        expected = None  # the HTTP headers were parsed off the block: check the declared body size instead
        declared = record.http_headers.get("Content-Length")
        if declared and declared.isdigit() and record.http_headers.get("Transfer-Encoding") is None:
            expected = int(declared) if len(body) < int(declared) else None
    if expected is not None and len(body) < expected:
        yield Failed(source, READ_STAGE, "truncated_record", f"{path}@{position}", f"{len(body)} of {expected} bytes")
        return
    if record_type == WarcRecordType.response:
        status = record.http_headers.status_code if record.http_headers is not None else None
        content_type = (record.http_content_type or "").lower()
        if status != 200:
            yield reject_at_read(Document(record_id, source, "", url, meta=meta), "http_status")
            return
        if content_type and not content_type.startswith(TEXT_CONTENT_TYPES):
            yield reject_at_read(Document(record_id, source, "", url, meta=meta), "not_text")
            return
        try:
            body = decode_body(body, record.http_headers.get("Transfer-Encoding"),
                               record.http_headers.get("Content-Encoding"), options.max_document_bytes)
        except UndecodableBody as err:
            yield Failed(source, READ_STAGE, "undecodable_body", f"{path}@{position}", str(err))
            return
        if looks_binary(body):
            yield reject_at_read(Document(record_id, source, "", url, meta=meta), "binary")
            return
        text = html_to_text(body, record.http_charset, options.extra.get("extractor", "resiliparse"))
    else:
        text, replaced = decode_text(body, "utf-8")
        if replaced:
            meta["replaced_bytes"] = replaced
    yield Document(record_id, source, text, url, meta=meta)


def _next_gzip_member(stream: IO[bytes], start: int, chunk: int = 1 << 20):
    """The offset of the next gzip member at or after `start` that opens a WARC record, or None.

    Compressed data can contain the gzip magic bytes by chance, so a candidate counts only if it
    inflates to a WARC header.
    """
    position = start
    while True:
        stream.seek(position)
        data = stream.read(chunk)
        if not data:
            return None
        found = data.find(GZIP_MAGIC)
        if found < 0:
            position += max(1, len(data) - len(GZIP_MAGIC) + 1)
            continue
        if _opens_warc_record(stream, position + found):
            return position + found
        position += found + 1


def _member_end(stream: IO[bytes], offset: int, chunk: int = 1 << 16):
    """Where the gzip member that starts at `offset` ends, or None when none starts there or it does
    not inflate whole."""
    stream.seek(offset)
    member = zlib.decompressobj(wbits=31)
    consumed = 0
    try:
        while data := stream.read(chunk):
            member.decompress(data, 1)
            while member.unconsumed_tail and not member.eof:
                member.decompress(member.unconsumed_tail, 1 << 20)
            if member.eof:
                return offset + consumed + len(data) - len(member.unused_data)
            consumed += len(data)
    except zlib.error:
        return None
    return None


def _gzip_ends_cleanly(stream: IO[bytes], offset: int) -> bool:
    """Whether the gzip members from `offset` (where a record's member starts) to the end of the file are
    all complete. True for a file that is not gzip there; a whole-file member is checked from the start."""
    stream.seek(offset)
    if stream.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
        stream.seek(0)
        if offset == 0 or stream.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            return True
        offset = 0
    while offset is not None:
        stream.seek(offset)
        if not stream.read(1):
            return True
        offset = _member_end(stream, offset)
    return False


def _opens_warc_record(stream: IO[bytes], offset: int) -> bool:
    stream.seek(offset)
    try:
        head = zlib.decompressobj(wbits=31).decompress(stream.read(4096), 5)
    except zlib.error:
        return False
    return head == b"WARC/"
