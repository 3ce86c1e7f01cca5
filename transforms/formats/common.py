"""What every reader shares: options, opening a path, decoding bytes, the too-large check."""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import IO, Any, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from filters.document import Document, Rejected

READ_STAGE = "read"


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings: the size cap and format-specific options from the source's config."""

    max_document_bytes: int = 20_000_000
    extra: dict[str, Any] = field(default_factory=dict)


def open_raw(path: str) -> IO[bytes]:
    """The file's bytes as stored (no transparent decompression): readers decide how to decode."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_decompressed(path: str) -> IO[bytes]:
    """The file's bytes, decompressed by extension (.gz, .bz2, .zst...)."""
    return FileSystems.open(path, compression_type=CompressionTypes.AUTO)


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


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 kB: an image, an archive or an executable, not text."""
    return b"\x00" in data[:8192]


def reject_at_read(doc: Document, reason: str) -> Rejected:
    return Rejected(doc=doc, stage=READ_STAGE, reason=reason)
