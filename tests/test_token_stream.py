"""The trainer's data source: partitions cover every row once, in order; resume is exact."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tokenmill.jobs.train.token_stream import TokenStream
from tests.token_shards import write_token_shards

SEQ_LEN = 6
VOCAB = 1000


def numbered_rows(count: int) -> np.ndarray:
    """Row g starts with g, so a row read back names its global position."""
    rows = np.arange(count)[:, None] * 7 + np.arange(SEQ_LEN + 1)[None, :] % 7
    rows[:, 0] = np.arange(count)
    return rows % VOCAB


@pytest.fixture
def folder(tmp_path):
    write_token_shards(tmp_path, numbered_rows(23), VOCAB, rows_per_shard=5)
    return tmp_path


def first_pass(stream: TokenStream) -> list[int]:
    return [int(row[0]) for row in itertools.islice(stream, len(stream))]


@pytest.mark.parametrize("world_size,num_workers", [(1, 1), (2, 1), (3, 1), (4, 2), (2, 3), (5, 5)])
def test_partitions_cover_every_row_exactly_once(folder, world_size, num_workers):
    seen = []
    for rank in range(world_size):
        for worker in range(num_workers):
            stream = TokenStream(str(folder), rank, world_size, worker, num_workers)
            rows = first_pass(stream)
            assert rows == sorted(rows), "a partition reads its rows in training order"
            assert all(g % stream.partitions == rank + worker * world_size for g in rows)
            seen += rows
    assert sorted(seen) == list(range(23))


def test_rows_are_int64_and_match_the_shards(folder):
    stream = TokenStream(str(folder))
    rows = np.stack(list(itertools.islice(stream, 23)))
    assert rows.dtype == np.int64 and rows.shape == (23, SEQ_LEN + 1)
    assert np.array_equal(rows, numbered_rows(23))
    assert stream.seq_len == SEQ_LEN and stream.vocab_size == VOCAB and len(stream) == 23


def test_iteration_wraps_and_counts_passes(folder):
    stream = TokenStream(str(folder), rank=1, world_size=3)
    rows = [int(r[0]) for r in itertools.islice(stream, 2 * len(stream) + 2)]
    assert rows == [1, 4, 7, 10, 13, 16, 19, 22] * 2 + [1, 4]
    assert stream.passes == 2


def test_resume_from_state_reproduces_the_rows(folder):
    stream = TokenStream(str(folder), rank=0, world_size=2)
    reading = iter(stream)
    for _ in range(9):
        next(reading)
    state = stream.state_dict()
    expected = [next(reading) for _ in range(15)]
    resumed = TokenStream(str(folder), rank=0, world_size=2)
    resumed.load_state_dict(json.loads(json.dumps(state)))
    got = list(itertools.islice(resumed, 15))
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


def test_skip_lands_where_reading_would(folder):
    read = TokenStream(str(folder), rank=2, world_size=3)
    for _ in itertools.islice(read, 17):
        pass
    skipped = TokenStream(str(folder), rank=2, world_size=3)
    skipped.skip(17)
    assert skipped.state_dict() == read.state_dict()
    assert np.array_equal(next(iter(skipped)), next(iter(read)))


def test_batches_are_consecutive_rows(folder):
    stream = TokenStream(str(folder), rank=1, world_size=2)
    batches = stream.batches(4)
    first, second = next(batches), next(batches)
    assert first.shape == (4, SEQ_LEN + 1) and first.dtype == np.int64
    assert [int(r[0]) for r in np.concatenate([first, second])] == [1, 3, 5, 7, 9, 11, 13, 15]


def test_reads_row_group_by_row_group(tmp_path):
    rows = numbered_rows(11)
    write_token_shards(tmp_path, rows, VOCAB, rows_per_shard=11)
    table = pq.read_table(tmp_path / "shard-00000.parquet")
    pq.write_table(table, tmp_path / "shard-00000.parquet", compression="zstd", row_group_size=3)
    assert pq.ParquetFile(tmp_path / "shard-00000.parquet").num_row_groups == 4
    for rank in range(2):
        stream = TokenStream(str(tmp_path), rank=rank, world_size=2)
        stream.skip(1)
        assert first_pass(stream)[:len(stream) - 1] == list(range(rank + 2, 11, 2))


def test_a_shard_subset_is_streamed_alone(folder):
    stream = TokenStream(str(folder), shards=["shard-00001.parquet", "shard-00003.parquet"])
    assert first_pass(stream) == [5, 6, 7, 8, 9, 15, 16, 17, 18, 19]
    with pytest.raises(ValueError, match="not in the manifest"):
        TokenStream(str(folder), shards=["shard-00099.parquet"])


def test_a_shard_shorter_than_its_manifest_entry_is_an_error(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][1]["rows"] = 6
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="shard-00001.parquet: 5 rows, the manifest says 6"):
        list(itertools.islice(TokenStream(str(folder)), 12))


def test_a_row_of_the_wrong_length_is_an_error(folder):
    bad = pa.table({"tokens": pa.array([[1, 2, 3]] * 5, type=pa.list_(pa.int32())),
                    "source": ["web"] * 5})
    pq.write_table(bad, folder / "shard-00000.parquet", compression="zstd")
    with pytest.raises(ValueError, match="not seq_len \\+ 1 = 7 ids"):
        next(iter(TokenStream(str(folder))))


def test_state_from_another_partition_or_folder_is_refused(folder, tmp_path_factory):
    state = TokenStream(str(folder), rank=0, world_size=2).state_dict()
    with pytest.raises(ValueError, match="partition 0 of 2"):
        TokenStream(str(folder), rank=1, world_size=2).load_state_dict(state)
    other = tmp_path_factory.mktemp("other")
    write_token_shards(other, numbered_rows(9), VOCAB, rows_per_shard=5)
    with pytest.raises(ValueError, match="different token folder"):
        TokenStream(str(other), rank=0, world_size=2).load_state_dict(state)


def test_more_partitions_than_rows_is_a_clear_error(tmp_path):
    write_token_shards(tmp_path, numbered_rows(3), VOCAB, rows_per_shard=5)
    stream = TokenStream(str(tmp_path), rank=3, world_size=4)
    assert len(stream) == 0
    with pytest.raises(ValueError, match="has no rows"):
        next(iter(stream))


def test_a_missing_manifest_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenmill pack"):
        TokenStream(str(tmp_path))


@pytest.mark.parametrize("partitions,span", [(1, 4), (2, 4), (3, 5), (2, 30)])
def test_spans_of_rows_cover_every_row_once_and_resume(folder, partitions, span):
    seen = []
    for rank in range(partitions):
        stream = TokenStream(str(folder), rank, partitions, span_rows=span)
        rows = first_pass(stream)
        assert all((g // span) % partitions == rank for g in rows) and rows == sorted(rows)
        seen += rows
        if len(stream) > 3:
            resumed = TokenStream(str(folder), rank, partitions, span_rows=span)
            resumed.skip(3)
            assert first_pass(resumed)[:len(stream) - 3] == rows[3:]
    assert sorted(seen) == list(range(23))


def test_with_spans_a_reader_decodes_only_the_row_groups_it_needs(tmp_path, monkeypatch):
    write_token_shards(tmp_path, numbered_rows(40), VOCAB, rows_per_shard=20)
    for name in ("shard-00000.parquet", "shard-00001.parquet"):
        table = pq.read_table(tmp_path / name)
        pq.write_table(table, tmp_path / name, compression="zstd", row_group_size=5)
    decoded = []
    read_row_group = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group",
                        lambda self, i, **kw: decoded.append(i) or read_row_group(self, i, **kw))
    stream = TokenStream(str(tmp_path), rank=1, world_size=4, span_rows=5)
    assert first_pass(stream) == [5, 6, 7, 8, 9, 25, 26, 27, 28, 29]
    assert decoded == [1, 1]  # one group of five rows in each shard, of eight groups


def test_a_dataloader_with_workers_reads_every_row_once_a_pass(folder):
    from torch.utils.data import DataLoader

    stream = TokenStream(str(folder), rank=1, world_size=2)
    loader = DataLoader(stream, batch_size=1, num_workers=2)
    rows = [int(batch[0][0]) for batch in itertools.islice(loader, len(stream))]
    assert sorted(rows) == list(range(1, 23, 2))  # one pass: each row of the partition once
    assert rows[:4] == [1, 3, 5, 7]  # the workers take turns: 1, 5, 9... and 3, 7, 11...
    batches = list(itertools.islice(DataLoader(stream, batch_size=4, num_workers=2), 2))
    assert all(b.shape == (4, SEQ_LEN + 1) and b.dtype == torch.int64 for b in batches)


def test_the_state_after_a_partitions_last_row_resumes_at_the_next_pass(folder):
    stream = TokenStream(str(folder), rank=1, world_size=3)
    reading = iter(stream)
    for _ in range(len(stream)):
        next(reading)
    state = stream.state_dict()
    assert (state["pass"], state["position"]) == (1, 0)
    resumed = TokenStream(str(folder), rank=1, world_size=3)
    resumed.load_state_dict(state)
    assert int(next(iter(resumed))[0]) == 1 and resumed.passes == 1
