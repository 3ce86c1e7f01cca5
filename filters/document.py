"""The records every layer passes around: a document, a rejected document, a failed one."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional, Union

Signal = Union[int, float, str, None]


@dataclass
class Document:
    """One document on its way through the pipeline.

    `meta` holds what the reader knew (path, title, programming language...); `signals` holds what
    the stages measured (word count, toxicity score...). Both end up in the curated Parquet.
    """

    id: str
    source: str
    text: str
    url: Optional[str] = None
    lang: Optional[str] = None
    lang_score: Optional[float] = None
    meta: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Signal] = field(default_factory=dict)


@dataclass
class Rejected:
    """A document a stage removed, and why (`reason` is the rule's name within the stage). `doc.text`
    is the text as the removing stage read it; `rewritten_text` what that stage had made of it
    before removing it, where it rewrote it (C4's line filter, then too few sentences)."""

    doc: Document
    stage: str
    reason: str
    duplicate_of: Optional[str] = None
    rewritten_text: Optional[str] = None

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.reason}"


@dataclass
class Failed:
    """A document (or an unreadable part of a shard) that could not be processed.

    `kind` names the failure (`corrupt_gzip`, `truncated_record`, `ValueError`...); `locator`
    says where it happened (a path and offset, or a document id) so that a user can find it.
    `unread_file` marks the failure that cost a whole input file (its reader produced nothing else).
    """

    source: str
    stage: str
    kind: str
    locator: str
    detail: str = ""
    unread_file: bool = False

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.kind}"


def stable_hash(*parts: str, digest_size: int = 8) -> int:
    """A hash that is the same in every process and on every machine (unlike `hash()`)."""
    h = hashlib.blake2b(digest_size=digest_size)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big")


def derived_id(path: str, position: int | str) -> str:
    """An id for a document whose record carries none: a hash of where it was read."""
    return f"{stable_hash(path, str(position)):016x}"
