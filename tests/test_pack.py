"""`tokenmill pack` end to end on real text: rows reproduce each source's token stream, the manifest
tells the truth about mixture, epochs and shards, phases are realised in order, bytes are stable."""
from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from tokenmill.jobs.cli import cli
from tokenmill.jobs.curate import curate
from tokenmill.jobs.pack import pack
from tokenmill.jobs.sample.build import sample_config_path
from tokenmill.jobs.train.token_stream import TokenStream
from tokenmill.jobs.tokenizer import train_tokenizer
from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.schema import ConfigError
from tests import pack_corpus
from tokenmill.transforms.tokenize import train_bpe

SEQ_LEN = 63
WIDTH = SEQ_LEN + 1


@pytest.fixture(scope="module")
def curated(tmp_path_factory, text_sources):
    root = tmp_path_factory.mktemp("curated")
    return pack_corpus.write_curated(root, {
        "books": text_sources.books(150_000),
        "wiki": text_sources.wiki(120_000),
        "web": text_sources.web(300_000) + [""],
        "multi": text_sources.multilingual(),
    })


@pytest.fixture(scope="module")
def tokenizer(curated, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(str(curated), str(path), vocab_size=800, sample_bytes=300_000)
    return path


def read_rows(tokens_dir) -> tuple[np.ndarray, list[str], list[int]]:
    manifest = json.loads((tokens_dir / "manifest.json").read_text())
    tables = [pq.read_table(tokens_dir / s["path"]) for s in manifest["shards"]]
    rows = np.concatenate([np.array(t.column("tokens").to_pylist(), dtype=np.int64) for t in tables])
    sources = [s for t in tables for s in t.column("source").to_pylist()]
    phases = [p for t in tables for p in t.column("phase").to_pylist()]
    return rows, sources, phases


def expected_rows(curated, source: str, tokenizer_path) -> list[tuple[int, ...]]:
    """Each of the source's curated shards (a pack group) on its own: its documents in id order,
    each encoded by `tokenizers` and followed by the end-of-text id, cut into rows: what concat
    packing must produce."""
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.encode_special_tokens = True
    rows = []
    for shard in sorted((curated / source).glob("*.parquet")):
        table = pq.read_table(shard)
        assert table.column("id").to_pylist() == sorted(table.column("id").to_pylist())
        stream = [i for text in table.column("text").to_pylist() if text for i in tok.encode(text).ids + [0]]
        rows += [tuple(stream[i:i + WIDTH]) for i in range(0, len(stream) - WIDTH + 1, WIDTH)]
    return rows


@pytest.fixture(scope="module")
def packed(curated, tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("tokens")
    config = Config(pack={"epochs": {"multi": 3.0}, "rows_per_shard": 700, "row_group_rows": 128})
    manifest = pack(str(curated), str(tokenizer), str(out), config, seq_len=SEQ_LEN,
                    mixture={"web": 0.5, "books": 0.25, "wiki": 0.15, "multi": 0.10})
    return out, manifest


def test_rows_reproduce_each_sources_token_stream(packed, curated, tokenizer):
    out, manifest = packed
    rows, sources, _ = read_rows(out)
    for source, entry in manifest["sources"].items():
        expected = expected_rows(curated, source, tokenizer)
        assert entry["rows_available"] == len(expected)
        used = Counter(tuple(r) for r, s in zip(rows, sources) if s == source)
        assert set(used) <= set(expected)
        assert entry["pack_groups"] == 2 and 0 < entry["tokens_dropped_at_group_ends"] < 2 * WIDTH
        assert sum(used.values()) == entry["rows_used"]
        full_epochs = entry["rows_used"] // len(expected)
        times = Counter(expected)  # a row can occur more than once in a stream (repeated boilerplate)
        assert all(max(full_epochs * times[row], 1) <= n <= (full_epochs + 1) * times[row] for row, n in used.items())


def test_the_manifest_tells_the_mixture_epochs_and_shards(packed, tokenizer):
    out, manifest = packed
    rows, sources, _ = read_rows(out)
    assert rows.shape == (manifest["total_rows"], WIDTH) and manifest["total_tokens"] == rows.size
    counts = Counter(sources)
    for source, entry in manifest["sources"].items():
        assert counts[source] == entry["rows_used"] and entry["tokens_used"] == entry["rows_used"] * WIDTH
        assert entry["epochs"] == pytest.approx(entry["rows_used"] / entry["rows_available"], abs=1e-6)
        assert entry["epochs"] <= entry["epoch_cap"] + 1e-9
        asked = manifest["mixture"]["asked"][source]
        assert abs(counts[source] / len(sources) - asked) <= 0.005
    assert manifest["mixture"]["asked"] == {"books": 0.25, "multi": 0.1, "web": 0.5, "wiki": 0.15}
    assert manifest["sources"]["web"]["empty_documents"] == 1
    # Some cap binds: the run is the largest the caps allow, and it says so.
    assert manifest["total_tokens_rule"] == "largest total the epoch caps allow"
    assert any(e["epochs"] > 0.95 * e["epoch_cap"] for e in manifest["sources"].values())
    for shard in manifest["shards"]:
        data = (out / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert pq.ParquetFile(out / shard["path"]).metadata.num_rows == shard["rows"] > 0
    assert manifest["tokenizer"]["sha256"] == hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    assert manifest["tokenizer"]["vocab_size"] == 800 and manifest["tokenizer"]["eot_id"] == 0


def test_every_window_of_1000_rows_matches_the_weights(packed):
    out, manifest = packed
    _, sources, _ = read_rows(out)
    asked = manifest["mixture"]["asked"]
    assert len(sources) > 2000
    for start in range(0, len(sources) - 1000 + 1, 97):
        window = Counter(sources[start:start + 1000])
        assert all(abs(window[s] / 1000 - w) <= 0.02 for s, w in asked.items())
    assert manifest["mixture"]["max_window_deviation"] <= 0.02


def test_phases_are_realised_in_row_order(curated, tokenizer, tmp_path):
    config = Config(pack={"phases": [{"until": 0.3, "weights": {"web": 0.7, "books": 0.3}},
                                     {"until": 1.0, "weights": {"web": 0.3, "books": 0.7}}],
                          "total_tokens": 2000 * WIDTH})
    manifest = pack(str(curated), str(tokenizer), str(tmp_path), config, seq_len=SEQ_LEN)
    _, sources, phases = read_rows(tmp_path)
    assert len(sources) == 2000 and phases == [0] * 600 + [1] * 1400
    assert Counter(sources[:600]) == {"web": 420, "books": 180}
    assert Counter(sources[600:]) == {"web": 420, "books": 980}
    assert [p["end_row"] for p in manifest["phases"]] == [600, 2000]
    assert manifest["mixture"]["asked"] == {"books": 0.58, "web": 0.42}
    assert "wiki" not in manifest["sources"]
    no_books = pack(str(curated), str(tokenizer), str(tmp_path), seq_len=SEQ_LEN, mixture={"web": 1.0, "books": 0.0})
    assert list(no_books["sources"]) == ["web"] and no_books["sources"]["web"]["weight"] == 1.0


def test_same_inputs_give_the_same_bytes(curated, tokenizer, tmp_path, packed):
    out, manifest = packed
    config = Config(pack={"epochs": {"multi": 3.0}, "rows_per_shard": 700, "row_group_rows": 128})
    again = pack(str(curated), str(tokenizer), str(tmp_path), config, seq_len=SEQ_LEN,
                 mixture={"web": 0.5, "books": 0.25, "wiki": 0.15, "multi": 0.10}, workers=2)
    assert (tmp_path / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()
    assert again == manifest
    assert not (tmp_path / "_work").exists()


def test_bos_bestfit_rows_start_with_a_document(curated, tokenizer, tmp_path):
    manifest = pack(str(curated), str(tokenizer), str(tmp_path), seq_len=SEQ_LEN, packing="bos-bestfit",
                    mixture={"wiki": 1.0})
    rows, _, _ = read_rows(tmp_path)
    assert manifest["packing"] == {"bestfit_buffer": 1000, "mode": "bos-bestfit",
                                   "group": "one curated shard, its documents in id order"}
    tok = Tokenizer.from_file(str(tokenizer))
    tok.encode_special_tokens = True
    texts = pq.read_table(curated / "wiki").column("text").to_pylist()
    items = [[0] + tok.encode(text).ids for text in texts]
    continuations = {tuple(item[k:k + 8]) for item in items for k in range(WIDTH, len(item), WIDTH)}
    for row in rows:
        assert row[0] == 0 or tuple(row[:8]) in continuations, "no row starts inside a document's piece"
    wiki = manifest["sources"]["wiki"]
    assert wiki["tokens_dropped_in_packing"] < 0.05 * wiki["tokens_tokenized"]


def test_an_impossible_total_is_a_clear_error(curated, tokenizer, tmp_path):
    pack(str(curated), str(tokenizer), str(tmp_path), seq_len=SEQ_LEN, mixture={"wiki": 1.0})
    before = (tmp_path / "manifest.json").read_bytes()
    with pytest.raises(ConfigError, match=r"books needs .* epochs .*\(cap 4\).*at most [\d,]+ tokens fit"):
        pack(str(curated), str(tokenizer), str(tmp_path), seq_len=SEQ_LEN, total_tokens=10**9,
             mixture={"web": 0.5, "books": 0.5})
    with pytest.raises(ConfigError, match="'code', which has no shards"):
        pack(str(curated), str(tokenizer), str(tmp_path), seq_len=SEQ_LEN, mixture={"code": 1.0})
    assert (tmp_path / "manifest.json").read_bytes() == before, "a failed run leaves the last output alone"
    assert not (tmp_path / "_work").exists()


def test_the_trainer_streams_the_packed_rows(packed):
    out, manifest = packed
    rows, _, _ = read_rows(out)
    streams = [TokenStream(str(out), rank=r, world_size=3) for r in range(3)]
    seen = sorted(int(g) for s in streams for g in range(s.partition, len(rows), 3))
    assert seen == list(range(len(rows)))
    first = list(itertools.islice(streams[1], 5))
    assert all(np.array_equal(a, rows[1 + 3 * i]) for i, a in enumerate(first))


def test_cli_pack(curated, tokenizer, tmp_path):
    result = CliRunner().invoke(cli, ["pack", "--curated", str(curated), "--tokenizer", str(tokenizer),
                                      "--seq-len", "127", "--output", str(tmp_path), "--total-tokens", "128000",
                                      "--mixture", "web=0.6,books=0.4"])
    assert result.exit_code == 0, result.output
    assert "1,000 rows = 128,000 tokens (as asked" in result.output
    bad = CliRunner().invoke(cli, ["pack", "--curated", str(curated), "--tokenizer", str(tokenizer),
                                   "--output", str(tmp_path), "--mixture", "web=lots"])
    assert bad.exit_code != 0 and "expected NAME=WEIGHT" in bad.output


def test_bad_curated_shards_are_named(curated, tokenizer, tmp_path):
    broken = tmp_path / "curated"
    (broken / "web").mkdir(parents=True)
    (broken / "web" / "part-00000.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ConfigError, match="part-00000.parquet: not a readable Parquet file"):
        pack(str(broken), str(tokenizer), str(tmp_path / "out"), seq_len=SEQ_LEN)
    pq.write_table(pq.read_table(curated / "wiki").drop(["text"]), broken / "web" / "part-00000.parquet")
    with pytest.raises(ConfigError, match="not a curated shard \\(no text column\\)"):
        pack(str(broken), str(tokenizer), str(tmp_path / "out"), seq_len=SEQ_LEN)
    with pytest.raises(ConfigError, match="cannot read the tokenizer"):
        pack(str(curated), str(curated / "wiki" / "part-00000.parquet"), str(tmp_path / "out"), seq_len=SEQ_LEN)
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a byte-level BPE tokenizer"):
        pack(str(curated), str(tmp_path / "other.json"), str(tmp_path / "out"), seq_len=SEQ_LEN)


def test_tokenizers_is_used_where_tiktoken_would_differ(tmp_path):
    """Merges b+c, a+b, ab+c: `tokenizers` leaves "abc" as [a, bc] (no a+bc merge), while tiktoken,
    which merges whatever concatenation is in the vocabulary, would make [abc]."""
    model = json.loads(train_bpe(["x"], vocab_size=257).to_str())
    vocab = model["model"]["vocab"]
    for token in ("bc", "ab", "abc"):
        vocab[token] = len(vocab)
    model["model"]["merges"] = [["b", "c"], ["a", "b"], ["ab", "c"]]
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(model))
    curated = pack_corpus.write_curated(tmp_path / "curated", {"web": ["abc abc"] * 40}, parts=1)
    manifest = pack(str(curated), str(path), str(tmp_path / "tokens"), seq_len=3)
    assert manifest["tokenizer"]["encoder"].startswith("tokenizers: tiktoken's ids differed on web")
    rows, _, _ = read_rows(tmp_path / "tokens")
    assert vocab["bc"] in rows and vocab["abc"] not in rows


def test_weights_come_from_the_curate_config(curated, tokenizer, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "sources:\n"
        "  web: {format: jsonl, paths: ['raw/*.jsonl'], weight: 3}\n"
        "  books: {format: text, paths: ['raw/*.txt'], weight: 1}\n"
        f"pack: {{seq_len: {SEQ_LEN}, total_tokens: {1000 * WIDTH}, epochs: {{books: 1.5}}}}\n")
    result = CliRunner().invoke(cli, ["pack", "--curated", str(curated), "--tokenizer", str(tokenizer),
                                      "--output", str(tmp_path / "tokens"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "tokens" / "manifest.json").read_text())
    assert manifest["mixture"]["origin"] == "sources.<name>.weight"
    assert manifest["mixture"]["delivered"] == {"books": 0.25, "web": 0.75}
    assert manifest["sources"]["books"]["epoch_cap"] == 1.5 and manifest["total_rows"] == 1000
    config.write_text("pack: {seq_len: 0}\n")
    bad = CliRunner().invoke(cli, ["pack", "--curated", str(curated), "--tokenizer", str(tokenizer),
                                   "--output", str(tmp_path / "tokens"), "--config", str(config)])
    assert bad.exit_code != 0 and "run.yaml: pack: seq_len: must be at least 1" in bad.output


def test_from_curate_to_the_trainers_reader(tmp_path):
    """The bundled sample through curate, tokenizer, pack and TokenStream: every kept document is
    tokenized, and the reader gives back the shards' rows."""
    ledger = curate(load_config(sample_config_path()), str(tmp_path))
    curated_dir, tokens_dir = tmp_path / "curated", tmp_path / "tokens"
    train_tokenizer(str(curated_dir), str(tmp_path / "tokenizer.json"), vocab_size=1000)
    manifest = pack(str(curated_dir), str(tmp_path / "tokenizer.json"), str(tokens_dir), seq_len=127)
    for source, entry in manifest["sources"].items():
        assert entry["documents"] + entry["empty_documents"] == ledger["kept"][source]
    with pytest.raises(ConfigError, match="a curate output folder; pass its curated/ folder"):
        pack(str(tmp_path), str(tmp_path / "tokenizer.json"), str(tokens_dir), seq_len=127)
    rows, _, _ = read_rows(tokens_dir)
    stream = TokenStream(str(tokens_dir))
    assert np.array_equal(np.stack(list(itertools.islice(stream, len(stream)))), rows)
