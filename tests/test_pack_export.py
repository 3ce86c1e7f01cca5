"""`tokenmill export-tokens`: nanoGPT's .bin and Megatron-LM's indexed dataset, each read back as
that trainer reads it (the readers below follow the formats' own definitions)."""
from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from tests.token_shards import patterned_rows, write_token_shards
from tokenmill.jobs.cli import cli

SEQ_LEN = 15


def nanogpt_get_batch(data_dir: str, split: str, block_size: int, offsets: list[int]):
    """nanoGPT's train.py: memory-map SPLIT.bin as uint16 and cut x = data[i:i+block], y = data[i+1:i+1+block]."""
    with open(os.path.join(data_dir, "meta.pkl"), "rb") as handle:
        meta = pickle.load(handle)
    dtype = np.uint16 if meta.get("dtype", "uint16") == "uint16" else np.uint32
    data = np.memmap(os.path.join(data_dir, f"{split}.bin"), dtype=dtype, mode="r")
    x = np.stack([data[i:i + block_size].astype(np.int64) for i in offsets])
    y = np.stack([data[i + 1:i + 1 + block_size].astype(np.int64) for i in offsets])
    return meta["vocab_size"], len(data), x, y


MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
                   8: np.uint16}


def megatron_read(prefix: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Megatron-LM's indexed dataset, version 1: the .idx header and arrays, then each sequence
    memory-mapped from the .bin at its pointer. Returns (document_indices, sequences)."""
    with open(prefix + ".idx", "rb") as handle:
        assert handle.read(9) == b"MMIDIDX\x00\x00"
        assert struct.unpack("<Q", handle.read(8)) == (1,)
        (code,) = struct.unpack("<B", handle.read(1))
        (sequence_count,) = struct.unpack("<Q", handle.read(8))
        (document_count,) = struct.unpack("<Q", handle.read(8))
        offset = handle.tell()
    index = np.memmap(prefix + ".idx", mode="r", order="C")
    lengths = np.frombuffer(index, dtype=np.int32, count=sequence_count, offset=offset)
    pointers = np.frombuffer(index, dtype=np.int64, count=sequence_count, offset=offset + lengths.nbytes)
    documents = np.frombuffer(index, dtype=np.int64, count=document_count,
                              offset=offset + lengths.nbytes + pointers.nbytes)
    assert offset + lengths.nbytes + pointers.nbytes + documents.nbytes == len(index), "nothing after the arrays"
    dtype = MEGATRON_DTYPES[code]
    data = np.memmap(prefix + ".bin", dtype=dtype, mode="r")
    itemsize = np.dtype(dtype).itemsize
    return documents, [np.asarray(data[p // itemsize:p // itemsize + n]) for p, n in zip(pointers, lengths)]


@pytest.mark.parametrize("vocab_size, dtype", [(500, "uint16"), (70_000, "uint32")])
def test_nanogpt_reads_every_row_in_training_order(tmp_path, vocab_size, dtype):
    rows = patterned_rows(90, SEQ_LEN, vocab_size, seed=1)
    write_token_shards(tmp_path / "tokens", rows, vocab_size, rows_per_shard=32)
    result = CliRunner().invoke(cli, ["export-tokens", "--input", str(tmp_path / "tokens"), "--format", "nanogpt",
                                      "--output", str(tmp_path / "nano"), "--val-rows", "10"])
    assert result.exit_code == 0, result.output
    assert f"as {dtype}" in result.output
    flat = rows.reshape(-1)
    vocab, length, x, y = nanogpt_get_batch(str(tmp_path / "nano"), "train", 24, [0, 7, 80 * 16 - 25])
    assert vocab == vocab_size and length == 80 * (SEQ_LEN + 1)
    for row, i in enumerate([0, 7, 80 * 16 - 25]):
        assert np.array_equal(x[row], flat[i:i + 24]) and np.array_equal(y[row], flat[i + 1:i + 25])
    _, val_length, x, _ = nanogpt_get_batch(str(tmp_path / "nano"), "val", 16, [0])
    assert val_length == 10 * (SEQ_LEN + 1) and np.array_equal(x[0], rows[80])


@pytest.mark.parametrize("vocab_size, code", [(500, 8), (65_500, 4)])
def test_megatron_reads_every_row_as_a_sequence(tmp_path, vocab_size, code):
    rows = patterned_rows(70, SEQ_LEN, vocab_size, seed=2)
    write_token_shards(tmp_path / "tokens", rows, vocab_size, rows_per_shard=25)
    result = CliRunner().invoke(cli, ["export-tokens", "--input", str(tmp_path / "tokens"), "--format", "megatron",
                                      "--output", str(tmp_path / "mega"), "--prefix", "web_text_document"])
    assert result.exit_code == 0, result.output
    prefix = str(tmp_path / "mega" / "web_text_document")
    with open(prefix + ".idx", "rb") as handle:
        assert handle.read(18)[-1] == code
    documents, sequences = megatron_read(prefix)
    assert np.array_equal(documents, np.arange(71))
    assert len(sequences) == 70 and all(np.array_equal(s, r) for s, r in zip(sequences, rows))


def test_a_changed_shard_is_refused(tmp_path):
    rows = patterned_rows(20, SEQ_LEN, 300)
    write_token_shards(tmp_path / "tokens", rows, 300, rows_per_shard=10)
    shard = tmp_path / "tokens" / "shard-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-10])
    result = CliRunner().invoke(cli, ["export-tokens", "--input", str(tmp_path / "tokens"), "--format", "megatron",
                                      "--output", str(tmp_path / "mega")])
    assert result.exit_code != 0 and "shard-00001.parquet: its sha256 differs from the manifest's" in result.output
    missing = CliRunner().invoke(cli, ["export-tokens", "--input", str(tmp_path / "none"), "--format", "nanogpt",
                                       "--output", str(tmp_path / "nano")])
    assert missing.exit_code != 0 and "no readable manifest.json" in missing.output
