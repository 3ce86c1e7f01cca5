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
