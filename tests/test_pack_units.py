"""Packing and mixing as plain functions: rows reproduce the stream, windows match the weights."""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokenmill.pipeline.pack_config import epoch_cap, pack_config, parse_mixture
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.pack import (MixtureError, PackStats, apportion, interleave, largest_total, merged_documents,
                             pack_bestfit, pack_concat, plan_mixture, plan_phases, rows_needed, window_deviation)
from tokenmill.transforms.tokenize import INDEX_SCHEMA

EOT = 0


def documents(count: int, seed: int = 0) -> list[np.ndarray]:
    """Documents of 1 to 60 ids (never EOT), some longer than a row."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 500, size=rng.integers(1, 60)).astype(np.int32) for _ in range(count)]


def test_concat_rows_are_the_stream_cut_without_padding():
    docs = documents(300)
    stats = PackStats()
    rows = np.concatenate(list(pack_concat(iter(docs), EOT, 17, stats)))
    stream = np.concatenate([np.append(d, EOT) for d in docs])
    assert rows.shape == (len(stream) // 17, 17)
    assert np.array_equal(rows.reshape(-1), stream[:rows.size])
    assert stats.documents == 300 and stats.tokens == len(stream) and stats.dropped == len(stream) % 17


def test_bestfit_rows_start_at_documents_and_keep_their_order_inside():
    """Document i holds ids 1 + 1000 i + position, so every id says where it came from."""
    rng = np.random.default_rng(1)
    docs = [1 + 1000 * i + np.arange(rng.integers(1, 300), dtype=np.int32) for i in range(400)]
    width = 128
    stats = PackStats()
    rows = np.concatenate(list(pack_bestfit(iter(docs), EOT, width, 200, stats)))
    assert rows.shape[1] == width
    for row in rows:
        # A row starts with a document's separator, or on a continuation piece of a long document.
        assert row[0] == EOT or ((row[0] - 1) % 1000 + 1) % width == 0
        ids = row[row != EOT]
        same_doc = (ids[1:] - 1) // 1000 == (ids[:-1] - 1) // 1000
        assert np.all(ids[1:][same_doc] == ids[:-1][same_doc] + 1), "a document's ids stay in order"
    assert stats.tokens == sum(len(d) + 1 for d in docs)
    assert stats.tokens - stats.dropped == rows.size
    assert stats.dropped < 0.03 * stats.tokens, "best fit rarely crops a document"


def test_apportion_is_exact_and_stable():
    assert apportion({"a": 0.5, "b": 0.3, "c": 0.2}, 10) == {"a": 5, "b": 3, "c": 2}
    assert sum(apportion({"a": 1, "b": 1, "c": 1}, 100).values()) == 100
    assert apportion({"a": 1, "b": 1}, 3) == {"a": 2, "b": 1}


def test_every_window_of_the_interleave_matches_the_weights():
    counts = [6000, 1500, 2500, 13]
    slots = interleave(counts)
    assert np.bincount(slots).tolist() == counts
    shares = np.array(counts) / sum(counts)
    assert window_deviation(slots, shares, 1000) < 0.003


def test_phases_take_their_share_of_rows():
    phases = [(0.3, {"web": 0.7, "books": 0.3}), (1.0, {"web": 0.3, "books": 0.7})]
    plans = plan_phases(phases, 1000)
    assert [(p.start, p.end) for p in plans] == [(0, 300), (300, 1000)]
    assert plans[0].rows == {"books": 90, "web": 210} and plans[1].rows == {"books": 490, "web": 210}
    assert rows_needed(plans) == {"books": 580, "web": 420}


def test_caps_repeat_a_small_source_up_to_its_limit():
    phases = [(1.0, {"web": 0.5, "wiki": 0.5})]
    plans = plan_mixture(phases, {"web": 1000, "wiki": 200}, {"web": 1.0, "wiki": 5.0}, None, 10)
    assert rows_needed(plans) == {"web": 1000, "wiki": 1000}
    assert largest_total(phases, {"web": 1000, "wiki": 200}, {"web": 2.0, "wiki": 4.0}) == 1601


def test_an_impossible_mixture_says_what_would_work():
    phases = [(1.0, {"web": 0.5, "books": 0.5})]
    with pytest.raises(MixtureError) as error:
        plan_mixture(phases, {"web": 1000, "books": 100}, {"web": 2.0, "books": 4.0}, 1000, 10)
    message = str(error.value)
    assert "books needs 500 rows = 5.00 epochs of its 100 (cap 4)" in message
    assert "at most 8,000 tokens fit" in message and "--total-tokens 8000" in message
    assert "share can be at most 0.4000" in message
    with pytest.raises(MixtureError, match="'code', which has no curated shards"):
        plan_mixture([(1.0, {"code": 1.0})], {"web": 10}, {"web": 1.0}, None, 10)


def test_a_source_too_small_for_one_row_is_named():
    with pytest.raises(MixtureError, match="no row can be mixed: wiki holds fewer tokens than one row of 10"):
        plan_mixture([(1.0, {"web": 0.5, "wiki": 0.5})], {"web": 100, "wiki": 0}, {"web": 1.0, "wiki": 1.0}, None, 10)


@pytest.mark.parametrize("raw,message", [
    ({"phases": [{"until": 0.5, "weights": {"web": 1}}]}, "pack: phases: the last phase must end at until: 1.0"),
    ({"phases": [{"until": 1.0, "weights": {}}]}, "phases[0].weights: at least one source needs a weight"),
    ({"mixture": {"web": -1}}, "mixture.web: a weight must not be negative"),
    ({"packing": "zigzag"}, "pack.packing: expected one of 'concat', 'bos-bestfit'"),
    ({"epochs": {"books": 0}}, "epochs.books: an epoch cap must be positive"),
])
def test_pack_config_mistakes_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        pack_config(raw, "run.yaml")


def test_mixture_flag_and_epoch_caps():
    assert parse_mixture("web=0.6, books=0.4") == {"web": 0.6, "books": 0.4}
    with pytest.raises(ConfigError, match="expected NAME=WEIGHT"):
        parse_mixture("web")
    assert [epoch_cap(s, {"web": 1.5}) for s in ("web", "cc-web", "books", "code", "wikipedia", "arxiv")] == \
        [1.5, 2.0, 4.0, 4.0, 6.0, 1.0]


def test_merged_documents_read_many_shards_in_id_order(tmp_path):
    """Shards of interleaved ids, each sorted, come back as one id-ordered stream of the right ids."""
    pairs = []
    for shard in range(5):
        doc_ids = [f"{i:04d}" for i in range(shard, 3000, 5)]
        lengths = [i % 7 for i in range(shard, 3000, 5)]
        tokens = np.concatenate([np.full(n, int(d), dtype=np.int32) for d, n in zip(doc_ids, lengths)])
        tokens.tofile(tmp_path / f"{shard}.ids")
        table = pa.table({"id": doc_ids, "tokens": lengths, "bytes": lengths}, schema=INDEX_SCHEMA)
        pq.write_table(table, tmp_path / f"{shard}.parquet", row_group_size=100)
        pairs.append((str(tmp_path / f"{shard}.ids"), str(tmp_path / f"{shard}.parquet")))
    merged = list(merged_documents(pairs))
    assert [d for d, _ in merged] == [f"{i:04d}" for i in range(3000)]
    assert all(len(ids) == int(d) % 7 and np.all(ids == int(d)) for d, ids in merged)
