"""Plain text files, one document per file."""
from __future__ import annotations

from typing import Iterator

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.transforms.formats.common import (READ_STAGE, STREAM_ERRORS, ReadOptions, content_error, decode_text, looks_binary,
                                                    open_decompressed, reject_at_read)


def read_text(path: str, source: str, options: ReadOptions) -> Iterator:
    doc_id = derived_id(path, 0)
    meta = {"path": path}
    try:
        with open_decompressed(path) as stream:
            data = stream.read(options.max_document_bytes + 1)
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "unreadable", path, str(content_error(err)))
        return
    if len(data) > options.max_document_bytes:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "too_large")
    elif not data.strip():
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "empty")
    elif looks_binary(data):
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "binary")
    else:
        text, replaced = decode_text(data, options.extra.get("encoding"))
        if replaced:
            meta["replaced_bytes"] = replaced
        yield Document(doc_id, source, text, meta=meta)

