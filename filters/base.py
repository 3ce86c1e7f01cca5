"""What a per-document stage looks like: a small picklable object that keeps or drops a document."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Iterable, Optional

from tokenmill.filters.document import Document

SignalTypes = dict[str, str]  # column name -> "int" | "float" | "str"
Bounds = tuple[Optional[float], Optional[float]]  # (lowest kept, highest kept); None: unbounded


class DocumentFilter(ABC):
    """One stage's decision on one document (DataTrove's filter shape).

    `__call__` returns None to keep the document, or the name of the rule that drops it
    (the ledger records it as ``<stage>/<rule>``). It may record measurements in
    `doc.signals` (declared in `signal_types`, so that every Parquet shard has the same columns),
    set `doc.lang`, or rewrite `doc.text` (C4's line cleaning, PII scrubbing).

    Models load in `setup()`, once per worker, never in `__init__`: the object is pickled to
    every worker and must stay small.
    """

    stage: ClassVar[str] = ""

    def setup(self) -> None:
        """Load models or build matchers; called once per worker before the first document."""

    def signal_types(self) -> SignalTypes:
        """The signal columns this filter writes, with their types."""
        return {}

    def thresholds(self) -> dict[str, Bounds]:
        """For each signal column that a rule compares with a bound, the range it keeps (the report
        draws these on the signal's histogram)."""
        return {}

    @abstractmethod
    def __call__(self, doc: Document) -> Optional[str]:
        """None to keep `doc`, else the name of the rule that drops it."""

    def filter_batch(self, docs: Iterable[Document]) -> list[Optional[str]]:
        """Decide a batch at once; filters whose library has a batch call override this."""
        return [self(doc) for doc in docs]
