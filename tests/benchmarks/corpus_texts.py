"""The real documents the benchmarks share, read from ../shared/corpus."""
from __future__ import annotations

import gzip
import os
import json
from pathlib import Path

CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", Path(__file__).resolve().parents[2].parent / "shared" / "corpus"))


def web_bulk_texts() -> list[str]:
    """The text of every web-bulk JSONL document (1,378 pages), in file order."""
    texts = []
    for path in sorted((CORPUS / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for line in lines if line.strip()]
    return texts


def warc_english_texts() -> list[str]:
    """The pages `bench_curate.py`'s WARC files bring to the quality stage: read and extracted
    (resiliparse), cleaned, and kept by langid as English (193 pages, 10,300 characters on average)."""
    import tempfile

    from bench_curate import make_input, warc_documents

    from tokenmill.pipeline.config import SourceConfig
    from tokenmill.pipeline.stages import STAGES

    with tempfile.TemporaryDirectory() as folder:
        make_input(Path(folder), copies=1)
        pattern = str(Path(folder) / "all" / "*.warc.gz")
        docs = warc_documents(pattern)
    source = SourceConfig("warc", [pattern])
    for stage in ("clean-text", "langid"):
        chain_filter = STAGES[stage].build(STAGES[stage].settings(), source)
        chain_filter.setup()
        docs = [doc for doc, reason in zip(docs, chain_filter.filter_batch(docs)) if reason is None]
    return [doc.text for doc in docs]
