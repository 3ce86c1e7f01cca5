"""What every reader shares: options, opening a path, decoding bytes, the too-large check."""
from __future__ import annotations

import bz2
import codecs
import re
import gzip
import io
import lzma
from dataclasses import dataclass, field
from typing import IO, Any, Iterator, Optional

from apache_beam.io.filesystem import CompressionTypes
import zstandard
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document, Rejected

READ_STAGE = "read"
# What a broken or truncated file raises while it is read (zlib/bz2/lzma/zstd errors, short reads).
# bz2 and gzip report bad data as an OSError without an errno; `is_io_error` tells the two apart.
STREAM_ERRORS = (OSError, EOFError, ValueError, zstandard.ZstdError)


def is_io_error(err: BaseException) -> bool:
    """The storage failed, not the content (a lost connection, a vanished file, a full disk): an error
    the runner should retry, never one to count as a bad record. Decompressors report corrupt data as
    OSError without an errno (gzip.BadGzipFile, bz2's "Invalid data stream"); the OS sets one."""
    return isinstance(err, (ConnectionError, TimeoutError)) or (isinstance(err, OSError) and err.errno is not None)


def content_error(err: BaseException) -> BaseException:
    """`err` itself, to be counted as a content error; an I/O error is raised again (retried)."""
    if is_io_error(err):
        raise err
    return err


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings: the size cap and format-specific options from the source's config."""

    max_document_bytes: int = 20_000_000
    extra: dict[str, Any] = field(default_factory=dict)


def open_raw(path: str) -> IO[bytes]:
    """The file's bytes as stored (no transparent decompression): readers decide how to decode."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_decompressed(path: str) -> IO[bytes]:
    """The file's bytes, decompressed by extension (.gz, .bz2, .xz, .zst).

    Python's own decompressors, not Beam's: they raise on a truncated or corrupt stream
    (EOFError, OSError, zstd errors) where Beam's would end quietly and lose the tail unnoticed.
    """
    raw = open_raw(path)
    name = path.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw, mode="rb")
    if name.endswith(".xz"):
        return lzma.LZMAFile(raw, mode="rb")
    if name.endswith((".zst", ".zstd")):
        return io.BufferedReader(StrictZstdReader(raw), buffer_size=1 << 16)
    return raw


class StrictZstdReader(io.RawIOBase):
    """Zstandard frames decoded one after another; a stream that ends inside a frame raises EOFError
    (zstandard's own stream reader returns the partial data without a word)."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._in_frame = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            data = self._raw.read(1 << 16)
            if not data:
                if self._in_frame:
                    raise EOFError("zstd stream ends inside a frame")
                return 0
            self._pending = self._decompress(data)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._frame.decompress(data))
            self._in_frame = not self._frame.eof
            data = self._frame.unused_data if self._frame.eof else b""
            if self._frame.eof:
                self._frame = zstandard.ZstdDecompressor().decompressobj()
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def decode_text(data: bytes, declared: Optional[str] = None) -> tuple[str, int]:
    """Bytes → str: a BOM wins, then the declared charset, then UTF-8; undecodable bytes become U+FFFD.

    Returns the text and how many replacement characters decoding introduced, for the ledger.
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            declared, data = encoding, data[len(bom):] if encoding == "utf-8" else data
            break
    encoding = "utf-8"
    if declared:
        try:
            encoding = codecs.lookup(declared).name
        except LookupError:
            pass
    before = data.count("\ufffd".encode(encoding)) if encoding.startswith("utf-8") else 0
    text = data.decode(encoding, errors="replace")
    return text, text.count("\ufffd") - before


def sniff_encoding(head: bytes, declared: Optional[str] = None) -> tuple[str, int]:
    """The encoding a stream starting with `head` is in, and the length of its byte-order mark."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"),
                          (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return encoding, len(bom)
    if declared:
        try:
            return codecs.lookup(declared).name, 0
        except LookupError:
            pass
    return "utf-8", 0


class DecodedLines:
    """The lines of a byte stream, decoded incrementally (BOM, declared charset, else UTF-8).

    Any of \\n, \\r\\n, \\r\\r\\n or \\r ends a line. Undecodable bytes become U+FFFD and are counted
    in `replaced`. Memory holds one chunk and one line, whatever the size of the file.
    """

    def __init__(self, stream: IO[bytes], declared: Optional[str] = None, chunk: int = 1 << 20):
        self.stream, self.declared, self.chunk = stream, declared, chunk
        self.replaced = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[str]:
        read = getattr(self.stream, "read1", self.stream.read)
        data = b""
        while len(data) < 4:  # enough for any byte-order mark
            more = read(self.chunk)
            if not more:
                break
            data += more
        encoding, bom = sniff_encoding(data, self.declared)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        data = data[bom:]
        buffer = ""
        final = False
        while not final:
            final = not data
            self.bytes_read += len(data)
            text = decoder.decode(data, final=final)
            self.replaced += text.count("\ufffd") - (data.count(b"\xef\xbf\xbd") if encoding == "utf-8" else 0)
            buffer += text
            # Trailing carriage returns wait for the next chunk: a \\r\\n may straddle two reads.
            cut = len(buffer) if final else len(buffer.rstrip("\r"))
            lines = _LINE_BREAK.split(buffer[:cut])
            rest = buffer[cut:]
            buffer = "" if final else lines.pop() + rest
            if final and lines and lines[-1] == "":
                lines.pop()
            yield from lines
            data = b"" if final else read(self.chunk)


_LINE_BREAK = re.compile(r"\r*\n|\r+")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 kB (UTF-16/32 text, announced by its byte-order mark, aside):
    an image, an archive or an executable, not text."""
    if sniff_encoding(data[:4])[1] and not data.startswith(codecs.BOM_UTF8):
        return False
    return b"\x00" in data[:8192]


def relative_path(path: str, roots) -> str:
    """`path` inside the tree the source names (the longest root that holds it; a file named
    without a glob is its own root, and stays its name)."""
    holding = [root for root in roots if root and path.startswith(root)]
    if not holding:
        return path
    return path[len(max(holding, key=len)):].lstrip("/") or path.rsplit("/", 1)[-1]


def with_relative_paths(doc: Document, path: str, roots) -> Document:
    """`doc` with the file path its reader put in `meta` (`path`, or `file` for code) relative to the
    source's root: a curated row says where in the source a document came from, not where one
    machine kept it. A remote path (gs://, s3://, hdfs://) is a name everywhere and stays whole."""
    if "://" not in path:
        for key in ("path", "file"):
            if doc.meta.get(key) == path:
                doc.meta[key] = relative_path(path, roots)
    return doc


def reject_at_read(doc: Document, reason: str) -> Rejected:
    return Rejected(doc=doc, stage=READ_STAGE, reason=reason)
