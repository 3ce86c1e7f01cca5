"""Curated folders for tokenizer and packing tests, cut from the real texts of ../shared/corpus.

Each source is written as the curate stage writes it: DIR/<source>/part-NNNNN.parquet (zstd),
one document a row, documents spread over the parts by a hash of their id and each part sorted by id.
"""
from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tokenmill.filters.document import stable_hash


def books(corpus: Path, limit: int) -> list[str]:
    """Frankenstein and Shakespeare cut into passages of about 4,000 characters at blank lines."""
    texts = [(corpus / "books" / name).read_text(encoding="utf-8") for name in ("pg_frankenstein.txt", "tinyshakespeare.txt")]
    passages = []
    for text in texts:
        current = ""
        for paragraph in text.split("\n\n"):
            current += paragraph + "\n\n"
            if len(current) > 4000:
                passages.append(current)
                current = ""
    return _take(passages, limit)


def wiki(corpus: Path, limit: int) -> list[str]:
    """WikiText-2 articles (split at top-level ` = Title = ` headings)."""
    text = (corpus / "wiki" / "wikitext-2-raw_valid.txt").read_text(encoding="utf-8")
    return _take([a for a in re.split(r"\n(?= = [^=])", text) if a.strip()], limit)


def web(corpus: Path, limit: int) -> list[str]:
    """OpenWebText documents."""
    with gzip.open(corpus / "web-bulk" / "openwebtext_megatron-ds-testset_part-shared.jsonl.gz", "rt") as lines:
        return _take([json.loads(line)["text"] for line in lines], limit)


def multilingual(corpus: Path) -> list[str]:
    """The labelled sentences of eight languages (Latin, Cyrillic, Arabic, Devanagari, Han), ten a document."""
    docs = []
    for path in sorted((corpus / "lid" / "lingua_sentences_sample").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        docs += ["\n".join(lines[i:i + 10]) for i in range(0, len(lines), 10)]
    return docs


def generated(count: int, seed: int = 0, words: int = 400) -> list[str]:
    """`count` documents of made-up words, Zipf-distributed like a language's, in sentences and
    paragraphs of varied length (a few longer than a row of a small test): for the default tier."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "ri", "sen", "ta", "mu", "pe", "dor", "vi", "an", "el", "ost", "qu", "br", "é", "ñu"]
    lexicon = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(words)]
    weights = [1 / (rank + 1) for rank in range(words)]
    docs = []
    for _ in range(count):
        paragraphs = []
        for _ in range(rng.choice([1, 1, 2, 3, 8])):
            sentences = [" ".join(rng.choices(lexicon, weights, k=rng.randint(3, 18))).capitalize() + rng.choice(".!?")
                         for _ in range(rng.randint(1, 6))]
            paragraphs.append(" ".join(sentences))
        docs.append("\n\n".join(paragraphs))
    return docs


def _take(texts: list[str], limit: int) -> list[str]:
    out, size = [], 0
    for text in texts:
        if size >= limit:
            break
        out.append(text)
        size += len(text)
    return out


def write_curated(root: Path, sources: dict[str, list[str]], parts: int = 2) -> Path:
    """Write `sources` ({name: texts}) as curated shards under `root`; returns `root`."""
    for name, texts in sources.items():
        docs = [(f"{stable_hash(name, str(i)):016x}", text) for i, text in enumerate(texts)]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(parts):
            mine = sorted(d for d in docs if stable_hash(d[0]) % parts == part)
            table = pa.table({
                "id": [d[0] for d in mine], "source": [name] * len(mine), "text": [d[1] for d in mine],
                "url": [None] * len(mine), "lang": ["en"] * len(mine), "lang_score": [1.0] * len(mine),
                "meta": ["{}"] * len(mine),
            })
            pq.write_table(table, folder / f"part-{part:05d}.parquet", compression="zstd")
    return root
