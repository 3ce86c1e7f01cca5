"""Plain-text books: one document per book, Gutenberg boilerplate stripped, paragraphs rejoined.

The file is streamed line by line; a book whose cleaned text passes the size cap is rejected
(`read/too_large`) as soon as it does, without the rest being read or held.
"""
from __future__ import annotations

from typing import Iterator

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.filters.extract.gutenberg import book_paragraphs
from tokenmill.transforms.formats.common import (READ_STAGE, DecodedLines, ReadOptions, STREAM_ERRORS, content_error, looks_binary,
                                       open_decompressed, reject_at_read)


def read_book(path: str, source: str, options: ReadOptions) -> Iterator:
    doc_id = derived_id(path, 0)
    meta = {"path": path}
    try:
        with open_decompressed(path) as stream:
            head = stream.peek(8192)[:8192] if hasattr(stream, "peek") else b""
            if looks_binary(head):
                yield reject_at_read(Document(doc_id, source, "", meta=meta), "binary")
                return
            lines = DecodedLines(stream, options.extra.get("encoding"))
            paragraphs = list(book_paragraphs(_capped(lines, options.max_document_bytes)))
    except _TooLarge:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "too_large")
        return
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "unreadable", path, str(content_error(err))[:500])
        return
    if not paragraphs:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "empty")
        return
    if lines.replaced:
        meta["replaced_bytes"] = lines.replaced
    yield Document(doc_id, source, "\n\n".join(paragraphs), meta=meta)


class _TooLarge(Exception):
    pass


def _capped(lines, limit: int):
    """The lines, until they add up to more than `limit` characters: then stop reading."""
    total = 0
    for line in lines:
        total += len(line) + 1
        if total > limit:
            raise _TooLarge
        yield line
