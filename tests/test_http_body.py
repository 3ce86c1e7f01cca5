"""HTTP bodies as crawlers store them: chunked, compressed, or already decoded with the headers kept."""
import gzip
import io
import zlib

import brotli
import pytest

from tokenmill.transforms.formats.common import ReadOptions
from tokenmill.transforms.formats.http_body import UndecodableBody, decode_body, dechunk
from tokenmill.transforms.formats.warc import read_warc

PAGE = (b"<html><body><article><p>CC Joins Civil Society groups in calling for open access to research "
        b"in the digital environment, so that every reader can find it.</p></article></body></html>")
LIMIT = 1 << 20


def chunked(data: bytes, size: int = 37, extension: bytes = b"") -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x%s\r\n%s\r\n" % (len(piece), extension, piece)
    return out + b"0\r\nExpires: never\r\n\r\n"


def test_chunk_sizes_and_trailers_are_removed():
    assert dechunk(chunked(PAGE)) == PAGE
    assert dechunk(chunked(PAGE, 1000, b";name=value")) == PAGE
    assert dechunk(chunked(PAGE).replace(b"\r\n", b"\n")) == PAGE.replace(b"\r\n", b"\n")


def test_a_body_stored_decoded_under_a_chunked_header_is_kept_as_it_is():
    assert decode_body(PAGE, "chunked", None, LIMIT) == PAGE


def raw_deflate(data: bytes) -> bytes:  # what some servers send as "deflate": no zlib header
    deflater = zlib.compressobj(wbits=-15)
    return deflater.compress(data) + deflater.flush()


@pytest.mark.parametrize("coding, encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate),
    ("br", brotli.compress),
])
def test_content_codings_are_undone_after_the_transfer_coding(coding, encode):
    encoded = encode(PAGE)
    assert decode_body(encoded, None, coding, LIMIT) == PAGE
    assert decode_body(chunked(encoded), "chunked", coding.upper(), LIMIT) == PAGE


@pytest.mark.parametrize("body, transfer, content", [
    (b"7d\r\n" + PAGE[:40], "chunked", None),                 # a chunk cut short
    (gzip.compress(PAGE)[:-30], None, "gzip"),                 # a gzip stream cut short
    (b"\x1f\x8b\x08\x00" + bytes(range(256)), None, "gzip"),  # gzip magic, then garbage
    (bytes(range(256)), None, "br"),                           # not brotli, and not text either
    (PAGE, None, "compress"),                                  # a coding nobody decodes
])
def test_a_body_that_does_not_decode_is_refused(body, transfer, content):
    with pytest.raises(UndecodableBody):
        decode_body(body, transfer, content, LIMIT)


def test_a_compression_bomb_is_refused():
    with pytest.raises(UndecodableBody, match="more than"):
        decode_body(gzip.compress(b"a" * 5000), None, "gzip", 1000)


def warc_response(record_id: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    http = b"HTTP/1.1 200 OK\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers) + b"\r\n"
    block = http + body
    return (b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\n"
            b"WARC-Target-URI: https://example.org/%s\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
            % (record_id.encode(), record_id.encode(), len(block))) + block + b"\r\n\r\n"


def test_the_warc_reader_extracts_decoded_bodies_and_counts_the_undecodable(tmp_path):
    html = [("Content-Type", "text/html; charset=utf-8")]
    records = [
        warc_response("plain", html, PAGE),
        warc_response("chunked", html + [("Transfer-Encoding", "chunked")], chunked(PAGE)),
        warc_response("gzip-chunked", html + [("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")],
                      chunked(gzip.compress(PAGE))),
        warc_response("br", html + [("Content-Encoding", "br")], brotli.compress(PAGE)),
        warc_response("broken", html + [("Transfer-Encoding", "chunked")], b"7d71\r\n" + PAGE[:50]),
    ]
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(b"".join(gzip.compress(r) for r in records))
    results = list(read_warc(str(path), "web", ReadOptions()))
    texts = {r.id.split(":")[-1]: r.text for r in results if hasattr(r, "text")}
    assert set(texts) == {"plain", "chunked", "gzip-chunked", "br"}
    assert len(set(texts.values())) == 1 and texts["plain"].startswith("CC Joins Civil Society")
    (failure,) = [r for r in results if not hasattr(r, "text")]
    assert failure.kind == "undecodable_body"


def test_the_crawlers_chunked_records_read_without_their_chunk_sizes(corpus):
    """The AllenAI crawl WARC stores two responses with their chunks as sent: the chunk sizes
    (hex, e.g. `6a43`) must not reach the text."""
    import re

    from fastwarc.warc import ArchiveIterator, WarcRecordType

    path = corpus / "web" / "allenai-crawl_dolma_sample-0000.warc.gz"
    sizes = {}
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
            if record.http_headers.get("Transfer-Encoding") == "chunked":
                body = record.reader.read()
                sizes[record.record_id.strip("<>")] = {m for m in re.findall(rb"(?m)^([0-9a-f]+)\r$", body)
                                                       if re.search(rb"[a-f]", m)}
    assert len(sizes) == 2 and all(sizes.values())
    texts = {r.id: r.text for r in read_warc(str(path), "web", ReadOptions()) if hasattr(r, "text")}
    for record_id, hex_sizes in sizes.items():
        words = set(texts[record_id].split())
        assert not {s.decode() for s in hex_sizes} & words


def test_codings_are_undone_in_the_reverse_of_the_order_they_were_applied():
    twice = gzip.compress(brotli.compress(PAGE))      # content: br then gzip
    sent = chunked(zlib.compress(twice))              # transfer: deflate then chunked
    assert decode_body(sent, "deflate, chunked", "br, gzip", LIMIT) == PAGE
