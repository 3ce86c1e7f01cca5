"""Packing and mixing as plain functions: rows reproduce the stream, windows match the weights."""
from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from tokenmill.pipeline.pack_config import epoch_cap, pack_config, parse_mixture, tokenizer_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.mix import (MixPlan, MixtureError, SourceRows, apportion, interleave, interleave_range,
                                      largest_total, plan_mixture, plan_phases, read_rows, rows_needed, shuffled,
                                      slots_before, window_deviation)
from tokenmill.transforms.pack import ROW_DTYPE, PackStats, pack_bestfit, pack_concat

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
    ({"seq_len": 2047, "rows_per_shard": 1_048_576}, "at seq_len 2047, rows_per_shard at most 1,048,575"),
])
def test_pack_config_mistakes_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        pack_config(raw, "run.yaml")


def test_a_vocabulary_past_int32_ids_is_refused_when_the_config_loads():
    with pytest.raises(ConfigError, match=re.escape("token ids are stored as int32, so at most 2,147,483,648")):
        tokenizer_config({"vocab_size": 2 ** 31 + 1}, "run.yaml")


def test_mixture_flag_and_epoch_caps():
    assert parse_mixture("web=0.6, books=0.4") == {"web": 0.6, "books": 0.4}
    with pytest.raises(ConfigError, match="expected NAME=WEIGHT"):
        parse_mixture("web")
    assert [epoch_cap(s, {"web": 1.5}) for s in ("web", "cc-web", "books", "code", "wikipedia", "arxiv")] == \
        [1.5, 2.0, 4.0, 4.0, 6.0, 1.0]


def test_a_range_of_the_interleave_is_that_slice_of_the_whole():
    counts = [6000, 1500, 2500, 13, 0, 7]
    sources, index = interleave_range(counts, 0, sum(counts))
    for i, n in enumerate(counts):
        assert np.array_equal(index[sources == i], np.arange(n)), "each source's rows come in order"
    keys = np.concatenate([(np.arange(n) + 0.5) / n for n in counts])
    owner = np.concatenate([np.full(n, i) for i, n in enumerate(counts)])
    assert np.array_equal(sources, owner[np.lexsort((owner, keys))]), "the order of the keys (j + 0.5) / n"
    for start, stop in [(0, 1), (5, 777), (1000, 10020), (10019, 10020), (3, 3)]:
        part, part_index = interleave_range(counts, start, stop)
        assert np.array_equal(part, sources[start:stop]) and np.array_equal(part_index, index[start:stop])


def test_ties_between_sources_are_exact_at_any_size():
    """Keys (2j + 1) / 2n that are equal as fractions tie and go to the lower source, also a billion
    rows into a phase, where a range is found by exact integer ranks without building the phase."""
    big = 2 ** 30
    sources, _ = interleave_range([big, big], big - 2, big + 2)
    assert sources.tolist() == [0, 1, 0, 1]


def test_a_phase_past_two_billion_rows_of_a_source_is_placed_exactly():
    """Past 2**31 rows of one source in a phase the products of the ranks leave int64: they are counted
    in Python integers, and the slots still follow the keys (j + 0.5) / n exactly, ties to the first source."""
    counts = [3 * 2 ** 31 + 7, 2 ** 31 + 5, 12_345]
    start, stop = 2 ** 32 + 11, 2 ** 32 + 5011
    sources, index = interleave_range(counts, start, stop)
    keys = [(Fraction(2 * int(j) + 1, 2 * counts[s]), int(s)) for s, j in zip(sources, index)]
    assert keys == sorted(keys)
    low, high = slots_before(counts, start), slots_before(counts, stop)
    for s in range(len(counts)):
        assert index[sources == s].tolist() == list(range(low[s], high[s])), "each source's rows in order"

@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 200, 4097, 100_003])
def test_the_shuffle_is_a_bijection_that_keeps_blocks_together(n):
    out = shuffled(np.arange(n), n, key=12345)
    assert np.array_equal(np.sort(out), np.arange(n))
    assert np.array_equal(shuffled(np.arange(n)[::-1].copy(), n, 12345), out[::-1]), "pointwise"
    whole = n // 64 * 64
    assert np.array_equal(out[whole:], np.arange(whole, n)), "the last partial block stays in order"
    if whole:
        assert np.all(out[:whole] // 64 == (out[:whole] // 64)[::64].repeat(64)), "a block moves as a whole"
    if n > 1000:
        assert not np.array_equal(out, np.arange(n)) and not np.array_equal(out, shuffled(np.arange(n), n, 7))


def test_a_mix_plan_places_every_row_from_counts_alone(tmp_path):
    """Two sources of several rows files; each phase takes the next rows of each source, epoch after
    epoch; any range of positions gives the same rows as the whole run; read_rows reads them."""
    width = 5
    files = {}
    for name, counts in {"a": (40, 0, 90), "b": (33,)}.items():
        paths = []
        for group, rows in enumerate(counts):
            path = tmp_path / f"{name}{group}.rows"
            first = sum(counts[:group])
            ids = (1000 * (ord(name) - 96) + np.arange(first, first + rows))[:, None] + np.zeros(width, int)
            ids.astype(ROW_DTYPE).tofile(path)
            paths.append(str(path))
        files[name] = SourceRows(name, tuple(paths), counts)
    phases = plan_phases([(0.4, {"a": 0.7, "b": 0.3}), (1.0, {"a": 0.2, "b": 0.8})], 400)
    plan = MixPlan(("a", "b"), (files["a"].available, files["b"].available), tuple(phases), width, seed=3,
                   window_rows=50)
    sources, rows, phase = plan.rows_for(0, 400)
    assert np.bincount(phase).tolist() == [160, 240]
    for index, name in enumerate("ab"):
        available = files[name].available
        taken = [rows[(sources == index) & (phase == p)] for p in (0, 1)]
        counts = [len(t) for t in taken]
        expected = (np.arange(sum(counts)) % available)
        assert np.array_equal(np.sort(np.concatenate(taken)), np.sort(expected))
        assert np.array_equal(np.sort(taken[0]), np.sort(expected[:counts[0]])), "phase 0 takes the first rows"
        read = read_rows(files[name], rows[sources == index], width)
        assert np.array_equal(read[:, 0], 1000 * (index + 1) + rows[sources == index])
    for start, stop in [(0, 7), (150, 170), (399, 400)]:
        part = plan.rows_for(start, stop)
        assert all(np.array_equal(p, w[start:stop]) for p, w in zip(part, (sources, rows, phase)))
    deviations = [plan.window_deviations(s, s + 64) for s in range(0, 400, 64)]
    whole = {p: max(d[p] for d in deviations if p in d) for p in (0, 1)}
    for p, plan_phase in enumerate(phases):
        slots = sources[plan_phase.start:plan_phase.end]
        shares = np.array([plan_phase.weights["a"], plan_phase.weights["b"]])
        assert whole[p] == window_deviation(slots, shares, 50)
