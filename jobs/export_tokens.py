"""`tokenmill export-tokens`: packed token shards → the files other trainers read without glue.

- `nanogpt`: `train.bin` and `val.bin`, the ids of every row, flat, in training order, as uint16
  (uint32 where the vocabulary does not fit in 16 bits) — the arrays nanoGPT's train.py memory-maps
  and cuts windows from — and `meta.pkl` with `vocab_size`, which train.py reads for the model size.
  The last `val_rows` rows go to val.bin.
- `megatron`: `PREFIX.bin` and `PREFIX.idx`, Megatron-LM's indexed dataset
  (megatron/core/datasets/indexed_dataset.py, index version 1): the ids of every row in the .bin,
  and in the .idx the header `MMIDIDX\\0\\0`, version, dtype code, sequence and document counts, then
  each sequence's length (int32) and byte offset (int64) and the document boundaries (int64). A row
  is one sequence and one document; ids are uint16 below 65,500 tokens, else int32, as Megatron's
  own preprocessing picks.

Shards are read through Beam's FileSystems, one at a time, and checked against the manifest's
sha256; the outputs are written through FileSystems too, so both may be local or gs://, s3://.
Memory holds one shard, whatever the size of the run.
"""
from __future__ import annotations

import hashlib
import pickle
import struct
from typing import IO, Iterator

import click
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.pipeline.storage import absolute
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.formats.common import open_raw
from tokenmill.transforms.tokenize import read_json

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}   # Megatron's DType codes
MEGATRON_UINT16_BELOW = 65500       # Megatron's DType.optimal_dtype: uint16 below this vocabulary size
INDEX_CHUNK = 1 << 20                # sequences per write of the .idx arrays


def manifest_of(tokens: str) -> dict:
    try:
        return read_json(f"{tokens}/manifest.json")
    except (OSError, ValueError) as err:
        raise ConfigError(f"{tokens}: no readable manifest.json ({err}); run `tokenmill pack` first") from None


def total_rows(manifest: dict) -> int:
    return sum(shard["rows"] for shard in manifest["shards"])


def token_rows(tokens: str, manifest: dict) -> Iterator[np.ndarray]:
    """Each shard's rows as an (n, seq_len + 1) int64 array, in training order, sha256 checked."""
    width = manifest["seq_len"] + 1
    for shard in manifest["shards"]:
        path = f"{tokens}/{shard['path']}"
        with open_raw(path) as handle:
            data = handle.read()
        if hashlib.sha256(data).hexdigest() != shard["sha256"]:
            raise ConfigError(f"{path}: its sha256 differs from the manifest's (changed or truncated)")
        column = pq.read_table(pa.BufferReader(data), columns=["tokens"]).column("tokens").combine_chunks()
        yield column.flatten().to_numpy().astype(np.int64).reshape(-1, width)


def nanogpt_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2 ** 16 else np.dtype(np.uint32)


def export_nanogpt(tokens: str, output: str, val_rows: int) -> dict:
    """train.bin, val.bin and meta.pkl under `output`; returns what was written."""
    manifest = manifest_of(tokens)
    dtype = nanogpt_dtype(manifest["tokenizer"]["vocab_size"])
    total = total_rows(manifest)
    if not 0 <= val_rows < total:
        raise ConfigError(f"--val-rows {val_rows}: must leave at least one of the {total:,} rows for training")
    written = {"train.bin": 0, "val.bin": 0}
    row = 0
    with FileSystems.create(f"{output}/train.bin") as train, FileSystems.create(f"{output}/val.bin") as val:
        for rows in token_rows(tokens, manifest):
            cut = min(len(rows), max(0, total - val_rows - row))
            for name, sink, part in (("train.bin", train, rows[:cut]), ("val.bin", val, rows[cut:])):
                sink.write(part.astype(dtype).tobytes())
                written[name] += part.size
            row += len(rows)
    with FileSystems.create(f"{output}/meta.pkl") as sink:
        sink.write(pickle.dumps({"vocab_size": manifest["tokenizer"]["vocab_size"], "dtype": dtype.name,
                                 "eot_id": manifest["tokenizer"]["eot_id"], "seq_len": manifest["seq_len"]}))
    return {"format": "nanogpt", "dtype": dtype.name, "tokens": written}


def megatron_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size < MEGATRON_UINT16_BELOW else np.dtype(np.int32)


def export_megatron(tokens: str, output: str, prefix: str) -> dict:
    """PREFIX.bin and PREFIX.idx under `output`; returns what was written."""
    manifest = manifest_of(tokens)
    dtype = megatron_dtype(manifest["tokenizer"]["vocab_size"])
    width = manifest["seq_len"] + 1
    sequences = 0
    with FileSystems.create(f"{output}/{prefix}.bin") as sink:
        for rows in token_rows(tokens, manifest):
            sink.write(rows.astype(dtype).tobytes())
            sequences += len(rows)
    with FileSystems.create(f"{output}/{prefix}.idx") as sink:
        sink.write(MEGATRON_HEADER)
        sink.write(struct.pack("<Q", MEGATRON_VERSION))
        sink.write(struct.pack("<B", MEGATRON_DTYPES[dtype]))
        sink.write(struct.pack("<Q", sequences))
        sink.write(struct.pack("<Q", sequences + 1))          # document boundaries, 0 included
        _write_chunked(sink, sequences, lambda a, b: np.full(b - a, width, dtype="<i4"))
        _write_chunked(sink, sequences, lambda a, b: np.arange(a, b, dtype="<i8") * (width * dtype.itemsize))
        _write_chunked(sink, sequences + 1, lambda a, b: np.arange(a, b, dtype="<i8"))
    return {"format": "megatron", "dtype": dtype.name, "sequences": sequences, "tokens": sequences * width}


def _write_chunked(sink: IO[bytes], count: int, make) -> None:
    for start in range(0, count, INDEX_CHUNK):
        sink.write(make(start, min(count, start + INDEX_CHUNK)).tobytes())


@click.command()
@click.option("--input", "tokens", required=True, help="The token folder of `tokenmill pack`, DIR/tokens.")
@click.option("--format", "kind", required=True, type=click.Choice(["nanogpt", "megatron"]), help="What to write.")
@click.option("--output", "-o", required=True, help="Folder to write into (local path or gs://, s3://...).")
@click.option("--val-rows", type=click.IntRange(min=0), help="nanogpt: rows at the end that go to val.bin "
              "(default: 0.5% of the rows, at least one).")
@click.option("--prefix", default="tokenmill_text_document", show_default=True, help="megatron: the files' name.")
def export_command(tokens, kind, output, val_rows, prefix):
    """Export packed token shards for nanoGPT (train.bin, val.bin, meta.pkl) or Megatron-LM (.bin, .idx)."""
    tokens, output = absolute(tokens), absolute(output)
    try:
        if kind == "nanogpt":
            total = total_rows(manifest_of(tokens))
            result = export_nanogpt(tokens, output, max(1, total // 200) if val_rows is None else val_rows)
            click.echo(f"nanogpt: {result['tokens']['train.bin']:,} train and {result['tokens']['val.bin']:,} val "
                       f"tokens as {result['dtype']} → {output}/train.bin, val.bin, meta.pkl")
        else:
            result = export_megatron(tokens, output, prefix)
            click.echo(f"megatron: {result['sequences']:,} sequences, {result['tokens']:,} tokens as "
                       f"{result['dtype']} → {output}/{prefix}.bin, .idx")
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
