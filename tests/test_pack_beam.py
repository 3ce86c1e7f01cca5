"""`tokenmill pack` as a Beam pipeline on generated text (the default tier): each curated shard packed
in a worker, the mixture from counts, the shards written by workers through Beam's FileSystems."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import output_tree
from click.testing import CliRunner
from tokenizers import Tokenizer

from tests import pack_corpus
from tests.memfs import MemoryFileSystem
from tokenmill.jobs.cli import cli
from tokenmill.jobs.pack import pack
from tokenmill.pipeline.config import Config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.tokenize import train_bpe

SEQ_LEN = 31
WIDTH = SEQ_LEN + 1
MIXTURE = {"web": 0.5, "books": 0.3, "wiki": 0.2}
CONFIG = {"rows_per_shard": 1500, "row_group_rows": 256, "epochs": {"wiki": 3.0}}


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("curated")
    return pack_corpus.write_curated(root, {
        "web": pack_corpus.generated(500, seed=1), "books": pack_corpus.generated(150, seed=2) + ["", ""],
        "wiki": pack_corpus.generated(120, seed=3)}, parts=3)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(pack_corpus.generated(200, seed=9), vocab_size=400).save(str(path))
    return path


@pytest.fixture(scope="module")
def packed(curated, tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("tokens")
    manifest = pack(str(curated), str(tokenizer), str(out), Config(pack=CONFIG), seq_len=SEQ_LEN, mixture=MIXTURE)
    return out, manifest


def read_rows(files: dict[str, bytes]) -> tuple[np.ndarray, list[str], list[int]]:
    manifest = json.loads(files["manifest.json"])
    tables = [pq.read_table(pa.BufferReader(files[s["path"]])) for s in manifest["shards"]]
    rows = np.concatenate([np.array(t.column("tokens").to_pylist(), dtype=np.int64) for t in tables])
    return rows, [s for t in tables for s in t.column("source").to_pylist()], \
        [p for t in tables for p in t.column("phase").to_pylist()]


def group_rows(curated: Path, source: str, tokenizer: Path) -> tuple[list[tuple[int, ...]], int]:
    """Concat packing of each curated shard on its own: its rows, and the ids left at the ends."""
    tok = Tokenizer.from_file(str(tokenizer))
    rows, left = [], 0
    for shard in sorted((curated / source).glob("*.parquet")):
        texts = pq.read_table(shard).column("text").to_pylist()
        stream = [i for text in texts if text for i in tok.encode(text).ids + [0]]
        rows += [tuple(stream[i:i + WIDTH]) for i in range(0, len(stream) - WIDTH + 1, WIDTH)]
        left += len(stream) % WIDTH
    return rows, left


def test_rows_are_each_groups_stream_and_the_manifest_counts_them(packed, curated, tokenizer):
    out, manifest = packed
    files = output_tree(out)
    rows, sources, _ = read_rows(files)
    assert rows.shape == (manifest["total_rows"], WIDTH)
    for source, entry in manifest["sources"].items():
        expected, left = group_rows(curated, source, tokenizer)
        assert entry["rows_available"] == len(expected) and entry["pack_groups"] == 3
        assert entry["tokens_dropped_in_packing"] == entry["tokens_dropped_at_group_ends"] == left
        assert entry["tokens_tokenized"] == len(expected) * WIDTH + left
        used = Counter(tuple(r) for r, s in zip(rows, sources) if s == source)
        assert set(used) <= set(expected) and sum(used.values()) == entry["rows_used"]
        full = entry["rows_used"] // len(expected)
        assert min(used.values()) >= max(full, 1) and max(used.values()) <= full + 1, "epoch after epoch"
        assert entry["epochs"] <= entry["epoch_cap"]
    assert manifest["sources"]["books"]["empty_documents"] == 2
    assert manifest["total_tokens_rule"] == "largest total the epoch caps allow"
    for shard in manifest["shards"]:
        assert hashlib.sha256(files[shard["path"]]).hexdigest() == shard["sha256"]
    assert sorted(files) == sorted(["manifest.json", *(s["path"] for s in manifest["shards"])]), "no work left"


def test_every_window_of_1000_rows_matches_the_weights(packed):
    out, manifest = packed
    _, sources, _ = read_rows(output_tree(out))
    assert len(sources) > 3000
    worst = 0.0
    for start in range(0, len(sources) - 1000 + 1, 50):
        window = Counter(sources[start:start + 1000])
        worst = max(worst, *(abs(window[s] / 1000 - w) for s, w in MIXTURE.items()))
    assert worst <= 0.002 and manifest["mixture"]["max_window_deviation"] <= 0.002
    assert manifest["mixture"]["max_window_deviation"] >= worst - 1e-6


def test_two_workers_write_the_same_bytes(packed, curated, tokenizer, tmp_path):
    out, manifest = packed
    again = pack(str(curated), str(tokenizer), str(tmp_path), Config(pack=CONFIG), seq_len=SEQ_LEN,
                 mixture=MIXTURE, workers=2)
    assert again == manifest and output_tree(tmp_path) == output_tree(out)


def test_remote_folders_through_beams_file_systems(packed, curated, tokenizer):
    """Curated shards, tokenizer, work folder and tokens all on an object store (memfs://, where
    `open()` and `os.listdir` cannot reach): the same bytes as on the local disk."""
    out, manifest = packed
    for path in [*curated.rglob("*.parquet"), tokenizer]:
        MemoryFileSystem.objects[f"memfs://bucket/{path.relative_to(curated.parent)}"] = path.read_bytes()
    try:
        remote = pack(f"memfs://bucket/{curated.name}", f"memfs://bucket/{tokenizer.parent.name}/tokenizer.json",
                      "memfs://bucket/tokens", Config(pack=CONFIG), seq_len=SEQ_LEN, mixture=MIXTURE)
        assert remote == manifest
        written = MemoryFileSystem.files("memfs://bucket/tokens")
        assert "run.json" in written   # the run card, through Beam's file systems too
        card_inputs = json.loads(written["run.json"])["pack"]["inputs"]
        parquet = list(curated.rglob("*.parquet"))
        assert card_inputs["files"] == len(parquet) + 1   # the shards and the tokenizer
        assert card_inputs["bytes"] == sum(p.stat().st_size for p in [*parquet, tokenizer])
        assert {name: data for name, data in written.items() if name != "run.json"} == output_tree(out)
    finally:
        MemoryFileSystem.objects.clear()


def test_phases_and_bos_bestfit(curated, tokenizer, tmp_path):
    config = Config(pack={"phases": [{"until": 0.25, "weights": {"web": 0.8, "books": 0.2}},
                                     {"until": 1.0, "weights": {"web": 0.4, "books": 0.6}}],
                          "total_tokens": 2000 * WIDTH, "rows_per_shard": 700})
    manifest = pack(str(curated), str(tokenizer), str(tmp_path), config, seq_len=SEQ_LEN, packing="bos-bestfit")
    rows, sources, phases = read_rows(output_tree(tmp_path))
    assert phases == [0] * 500 + [1] * 1500
    assert Counter(sources[:500]) == {"web": 400, "books": 100} and Counter(sources[500:]) == {"web": 600, "books": 900}
    assert manifest["packing"]["mode"] == "bos-bestfit" and list(manifest["sources"]) == ["books", "web"]
    tok = Tokenizer.from_file(str(tokenizer))
    texts = [t for s in ("web", "books") for t in pq.read_table(curated / s).column("text").to_pylist() if t]
    items = [[0] + tok.encode(text).ids for text in texts]
    continuations = {tuple(item[k:k + 6]) for item in items for k in range(WIDTH, len(item), WIDTH)}
    assert all(row[0] == 0 or tuple(row[:6]) in continuations for row in rows), "rows start at a document"
    for entry in manifest["sources"].values():
        assert 0 < entry["tokens_dropped_at_group_ends"] <= entry["tokens_dropped_in_packing"]
        assert entry["tokens_dropped_in_packing"] < 0.05 * entry["tokens_tokenized"]


def test_a_bad_shard_is_named_and_the_last_output_stays(curated, tokenizer, tmp_path):
    pack(str(curated), str(tokenizer), str(tmp_path / "tokens"), seq_len=SEQ_LEN, mixture={"wiki": 1.0})
    before = output_tree(tmp_path / "tokens")
    broken = tmp_path / "curated"
    for source in ("web", "wiki"):
        (broken / source).mkdir(parents=True)
        for shard in (curated / source).glob("*.parquet"):
            (broken / source / shard.name).write_bytes(shard.read_bytes())
    (broken / "web" / "part-00001.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ConfigError, match=r"web/part-00001.parquet: not a readable Parquet file"):
        pack(str(broken), str(tokenizer), str(tmp_path / "tokens"), seq_len=SEQ_LEN, mixture={"web": 1.0})
    with pytest.raises(ConfigError, match="the mixture cannot fill"):
        pack(str(curated), str(tokenizer), str(tmp_path / "tokens"), seq_len=SEQ_LEN, total_tokens=10**9,
             mixture={"wiki": 1.0})
    assert output_tree(tmp_path / "tokens") == before, "a failed run leaves the last output alone, and no work folder"


def test_run_every_beam_stage_into_a_remote_folder(tmp_path):
    """`tokenmill run --skip-train` with OUT on an object store: curate, the tokenizer's sample and
    pack all read and write there through FileSystems; training, which needs a local folder, is refused."""
    raw = tmp_path / "docs.jsonl"
    raw.write_text("".join(json.dumps({"id": f"d{i}", "text": text}) + "\n"
                           for i, text in enumerate(pack_corpus.generated(150, seed=4))))
    config = tmp_path / "run.yaml"
    config.write_text(f"sources:\n  web: {{format: jsonl, paths: ['{raw}'], stages: [exact-dedup]}}\n"
                      "tokenizer: {vocab_size: 300}\npack: {seq_len: 31, rows_per_shard: 400}\n")
    try:
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--output", "memfs://bucket/out",
                                          "--skip-train"])
        assert result.exit_code == 0, result.output
        files = MemoryFileSystem.files("memfs://bucket/out")
        assert {"ledger.json", "tokenizer.json", "tokenizer_config.json", "tokens/manifest.json", "run.json",
                "tokens/run.json"} <= set(files)
        assert any(name.startswith("curated/web/") for name in files)
        manifest = json.loads(files["tokens/manifest.json"])
        assert manifest["sources"]["web"]["documents"] == json.loads(files["ledger.json"])["kept"]["web"] > 100
        assert [s["path"] for s in manifest["shards"]] == sorted(n[7:] for n in files if n.startswith("tokens/shard-"))
    finally:
        MemoryFileSystem.objects.clear()
    refused = CliRunner().invoke(cli, ["run", "--config", str(config), "--output", "memfs://bucket/out"])
    assert refused.exit_code != 0 and "training reads a local folder; add --skip-train" in refused.output
