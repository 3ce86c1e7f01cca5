"""Code: source files one by one (a glob over a tree), or JSON Lines of {path, content} (The Stack).

The language comes from the extension; binaries, vendored trees, lock files, generated files and
minified bundles are removed with their reason; the repository path is kept in `meta.path`.
"""
from __future__ import annotations

import json
from typing import Iterator

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.filters.extract.code import code_language, skip_reason
from tokenmill.transforms.formats.common import (READ_STAGE, STREAM_ERRORS, ReadOptions, content_error, decode_text,
                                                 looks_binary, open_decompressed, reject_at_read, relative_path)
from tokenmill.transforms.formats.jsonl import jsonl_lines

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.bz2", ".jsonl.xz", ".json.gz")


def read_code(path: str, source: str, options: ReadOptions) -> Iterator:
    if path.lower().endswith(JSONL_SUFFIXES):
        yield from _read_code_jsonl(path, source, options)
        return
    try:
        with open_decompressed(path) as stream:
            data = stream.read(options.max_document_bytes + 1)
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "unreadable", path, str(content_error(err))[:500])
        return
    yield _code_document(derived_id(path, 0), relative_path(path, options.extra.get("roots", ())), data, source,
                         options, {"file": path})


def _read_code_jsonl(path: str, source: str, options: ReadOptions) -> Iterator:
    path_field = options.extra.get("path_field", "path")
    content_field = options.extra.get("content_field", "content")
    line_number = 0
    try:
        with open_decompressed(path) as stream:
            for line_number, raw in enumerate(jsonl_lines(stream, options.max_document_bytes), start=1):
                doc_id = derived_id(path, line_number)
                if raw is None:
                    yield reject_at_read(Document(doc_id, source, "", meta={"path": path}), "too_large")
                    continue
                if not raw.strip():
                    continue
                record = _record(raw)
                if record is None or not isinstance(record.get(content_field), str) or not record.get(path_field):
                    yield Failed(source, READ_STAGE, "invalid_record", f"{path}:{line_number}",
                                 f"needs string fields {path_field!r} and {content_field!r}")
                    continue
                file_path = str(record[path_field])
                meta = {"shard": path, **{k: v for k, v in record.items() if k in ("repo", "license")}}
                yield _code_document(str(record.get("id") or doc_id), file_path, record[content_field].encode("utf-8"),
                                     source, options, meta)
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "corrupt_compression", f"{path}:{line_number + 1}", str(content_error(err)))


def _record(raw: bytes):
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _code_document(doc_id: str, file_path: str, data: bytes, source: str, options: ReadOptions, meta: dict):
    language = code_language(file_path)
    meta = {**meta, "path": file_path, "language": language}
    empty = Document(doc_id, source, "", meta=meta)
    if len(data) > options.max_document_bytes:
        return reject_at_read(empty, "too_large")
    if looks_binary(data):
        return reject_at_read(empty, "binary")
    text, replaced = decode_text(data)
    if not text.strip():
        return reject_at_read(empty, "empty")
    reason = skip_reason(file_path.replace("\\", "/"), text)
    if reason:
        return reject_at_read(empty, reason)
    if replaced:
        meta["replaced_bytes"] = replaced
    return Document(doc_id, source, text, meta=meta)
