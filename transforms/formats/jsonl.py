"""JSON Lines documents (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`...): a `text` field, optional `id` and `url`."""
from __future__ import annotations

import json
from typing import Iterator

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.transforms.formats.common import (READ_STAGE, STREAM_ERRORS, ReadOptions, content_error, decode_text,
                                                    open_decompressed, reject_at_read)

META_FIELDS_SKIPPED = frozenset({"text", "id", "url"})


def read_jsonl(path: str, source: str, options: ReadOptions) -> Iterator:
    text_field = options.extra.get("text_field", "text")
    line_number = 0
    try:
        with open_decompressed(path) as stream:
            for line_number, raw in enumerate(jsonl_lines(stream, options.max_document_bytes), start=1):
                if raw is None:
                    yield reject_at_read(Document(derived_id(path, line_number), source, "", meta={"path": path}), "too_large")
                    continue
                if not raw.strip():
                    continue
                yield _parse(raw, path, line_number, source, text_field)
    except STREAM_ERRORS as err:
        # zlib/zstd errors surface here: the rest of this file is unreadable.
        yield Failed(source, READ_STAGE, "corrupt_compression", f"{path}:{line_number + 1}", str(content_error(err)))


def _parse(raw: bytes, path: str, line_number: int, source: str, text_field: str):
    locator = f"{path}:{line_number}"
    line, replaced = decode_text(raw)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return Failed(source, READ_STAGE, "invalid_json", locator, str(err))
    if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
        return Failed(source, READ_STAGE, "missing_text", locator, f"no string field {text_field!r}")
    doc_id = record.get("id")
    doc_id = str(doc_id) if doc_id not in (None, "") else derived_id(path, line_number)
    url = record.get("url")
    meta = {k: v for k, v in record.items() if k not in META_FIELDS_SKIPPED and k != text_field and _is_scalar(v)}
    meta["path"] = path
    if replaced:
        meta["replaced_bytes"] = replaced
    return Document(doc_id, source, record[text_field], str(url) if url else None, meta=meta)


def jsonl_lines(stream, limit: int, chunk: int = 1 << 20) -> Iterator[bytes | None]:
    """Lines of the stream; a line longer than `limit` bytes is skipped without holding it (yields None)."""
    buffer = b""
    oversize = False
    read = getattr(stream, "read1", stream.read)  # read1: what is decoded so far, before a corrupt tail
    while True:
        block = read(chunk)
        if not block:
            break
        buffer += block
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                break
            line, buffer = buffer[:end], buffer[end + 1:]
            if oversize:
                oversize = False
                yield None
            else:
                yield line
        if len(buffer) > limit:
            buffer, oversize = b"", True
    if oversize:
        yield None
    elif buffer:
        yield buffer


def _is_scalar(value) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None
