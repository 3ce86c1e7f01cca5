"""The body of an HTTP response as the server meant it: transfer coding (`chunked`, RFC 9112
section 7.1) and content codings (`gzip`, `deflate`, `br`; RFC 9110 section 8.4.1) undone.

Crawlers differ in what they store: some keep the bytes as sent (chunk sizes inside the text), some
store the decoded body but keep the headers. A body that does not open like its coding (no chunk
size on its first line, no gzip magic) and reads as text is taken as stored decoded; one
that opens like its coding but does not decode is `UndecodableBody`, counted by the reader.
"""
from __future__ import annotations

import re
import zlib

CHUNK_SIZE_LINE = re.compile(rb"[0-9A-Fa-f]{1,16}[ \t]*(?:;[^\r\n]*)?\r?\n")
GZIP_MAGIC = b"\x1f\x8b"
CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
TEXT_SNIFF_BYTES = 4096


class UndecodableBody(ValueError):
    """A body that claims a coding it does not decode under."""


def decode_body(body: bytes, transfer_encoding: str | None, content_encoding: str | None, limit: int) -> bytes:
    """`body` with its transfer and content codings undone, at most `limit` bytes decoded (more is
    `UndecodableBody`: a compression bomb is not a page)."""
    transfer = _codings(transfer_encoding)
    if transfer[-1:] == ["chunked"]:
        body = dechunk(body)
        transfer.pop()
    # Codings are applied in the order listed, content codings before transfer codings: undone backwards.
    for coding in list(reversed(transfer)) + list(reversed(_codings(content_encoding))):
        body = _decompress(body, coding, limit)
    return body


def dechunk(body: bytes) -> bytes:
    """The data of a chunked body (chunk extensions and trailer fields dropped); a body whose first
    line is no chunk size is returned as it is (stored decoded)."""
    if not CHUNK_SIZE_LINE.match(body):
        return body
    pieces, position = [], 0
    while True:
        line = CHUNK_SIZE_LINE.match(body, position)
        if line is None:
            raise UndecodableBody(f"chunked: no chunk size at byte {position}")
        size = int(line.group().split(b";")[0].strip(), 16)
        start = line.end()
        if size == 0:
            return b"".join(pieces)
        if start + size > len(body):
            raise UndecodableBody(f"chunked: a chunk of {size} bytes at byte {start} runs past the end")
        pieces.append(body[start:start + size])
        position = start + size
        for ending in (b"\r\n", b"\n"):
            if body.startswith(ending, position):
                position += len(ending)
                break
        else:
            raise UndecodableBody(f"chunked: no line end after the chunk at byte {start}")


def _codings(header: str | None) -> list[str]:
    return [c.strip().lower() for c in (header or "").split(",") if c.strip().lower() not in ("", "identity")]


def _decompress(body: bytes, coding: str, limit: int) -> bytes:
    if coding in ("gzip", "x-gzip"):
        if not body.startswith(GZIP_MAGIC):
            return _stored_decoded(body, coding)
        return _inflate(body, zlib.MAX_WBITS | 16, coding, limit)
    if coding == "deflate":  # zlib-wrapped as the RFC says, or raw deflate as some servers send it
        try:
            return _inflate(body, zlib.MAX_WBITS, coding, limit)
        except UndecodableBody:
            try:
                return _inflate(body, -zlib.MAX_WBITS, coding, limit)
            except UndecodableBody:
                return _stored_decoded(body, coding)
    if coding == "br":
        import brotli

        decompressor = brotli.Decompressor()
        try:  # the output stops growing past the limit, so a small bomb cannot fill the worker's memory
            decoded = decompressor.process(body, output_buffer_limit=limit + 1)
        except brotli.error:
            return _stored_decoded(body, coding)
        if len(decoded) > limit:
            raise UndecodableBody(f"br: decodes to more than {limit} bytes")
        if not decompressor.is_finished():  # cut short, as brotli.decompress would have refused it
            return _stored_decoded(body, coding)
        return decoded
    raise UndecodableBody(f"unknown coding {coding!r}")


def _inflate(body: bytes, wbits: int, coding: str, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        decoded = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise UndecodableBody(f"{coding}: {err}") from None
    if len(decoded) > limit:
        raise UndecodableBody(f"{coding}: decodes to more than {limit} bytes")
    if not inflater.eof:
        raise UndecodableBody(f"{coding}: the compressed stream is cut short")
    return decoded


def _stored_decoded(body: bytes, coding: str) -> bytes:
    """A body that does not decode under `coding`: kept when it is already text (no control byte
    but tab, line ends and form feed in its first 4 kB, which compressed bytes always have), refused
    otherwise."""
    if CONTROL_BYTE.search(body, 0, TEXT_SNIFF_BYTES):
        raise UndecodableBody(f"{coding}: the body does not decode")
    return body
