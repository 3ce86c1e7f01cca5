"""Write packed token folders by the packing contract, for trainer and planner tests.

`tokens/shard-NNNNN.parquet` (zstd) with columns `tokens` (list<int32>, seq_len + 1 ids a row)
and `source`, and `tokens/manifest.json` with seq_len, the tokenizer's vocab size, and each
shard's path, rows and sha256.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_token_shards(tokens_dir: Path, rows: np.ndarray, vocab_size: int,
                       rows_per_shard: int, source: str = "web",
                       extra_manifest: dict | None = None) -> Path:
    """Write `rows` (n, seq_len + 1) as shards of `rows_per_shard`; return the manifest's path."""
    tokens_dir.mkdir(parents=True, exist_ok=True)
    shards = []
    for index, start in enumerate(range(0, len(rows), rows_per_shard)):
        chunk = rows[start:start + rows_per_shard].astype(np.int32)
        table = pa.table({
            "tokens": pa.array(list(chunk), type=pa.list_(pa.int32())),
            "source": pa.array([source] * len(chunk), type=pa.string()),
        })
        name = f"shard-{index:05d}.parquet"
        pq.write_table(table, tokens_dir / name, compression="zstd")
        digest = hashlib.sha256((tokens_dir / name).read_bytes()).hexdigest()
        shards.append({"path": name, "rows": len(chunk), "sha256": digest})
    manifest = {
        "seq_len": rows.shape[1] - 1,
        "tokenizer": {"vocab_size": vocab_size, "sha256": "0" * 64, "eot_id": 0},
        "shards": shards,
        **(extra_manifest or {}),
    }
    path = tokens_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


def patterned_rows(count: int, seq_len: int, vocab_size: int, seed: int = 0) -> np.ndarray:
    """Rows a small model can learn: each is an arithmetic progression of ids mod vocab_size."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, vocab_size, size=(count, 1))
    strides = rng.integers(1, 4, size=(count, 1))
    return (starts + strides * np.arange(seq_len + 1)) % vocab_size
