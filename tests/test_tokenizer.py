"""The byte-level BPE tokenizer: tied to the chapter's learner, lossless, and fast with the same ids."""
from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems
from click.testing import CliRunner
from tokenizers import Tokenizer, pre_tokenizers

from tokenmill.jobs.cli import cli
from tokenmill.jobs.tokenizer import train_tokenizer
from tokenmill.pipeline.config import Config
from tokenmill.pipeline.schema import ConfigError
from tests import pack_corpus
from tokenmill.filters.document import stable_hash
from tokenmill.transforms.tokenize import (EOT, ChooseRows, Encoder, WriteSampleFile, new_tokenizer, sample_threshold,
                                           shard_text_bytes, train_bpe)


def learn_bpe(word_freqs: dict[str, int], num_merges: int, alphabet: list[str], min_frequency: int):
    """The chapter's `learn_bpe` (pretraining.md, "Byte Pair Encoding"), fed word frequencies, with
    its tie-breaking made explicit: among the most frequent pairs, the one whose symbols have the
    smallest ids (the alphabet in order, then each merge as it is learned); stop below `min_frequency`."""
    ids = {symbol: index for index, symbol in enumerate(alphabet)}
    splits = {word: list(word) for word in word_freqs}
    merges = []
    for _ in range(num_merges):
        pair_freqs: dict[tuple[str, str], int] = {}
        for word, freq in word_freqs.items():
            symbols = splits[word]
            for i in range(len(symbols) - 1):
                pair = (symbols[i], symbols[i + 1])
                pair_freqs[pair] = pair_freqs.get(pair, 0) + freq
        if not pair_freqs:
            break
        best_pair = max(pair_freqs, key=lambda p: (pair_freqs[p], -ids[p[0]], -ids[p[1]]))
        if pair_freqs[best_pair] < min_frequency:
            break
        merges.append(best_pair)
        new_token = best_pair[0] + best_pair[1]
        ids.setdefault(new_token, len(ids))
        for word in splits:
            symbols = splits[word]
            new_symbols = []
            i = 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == best_pair[0] and symbols[i + 1] == best_pair[1]:
                    new_symbols.append(new_token)
                    i += 2
                else:
                    new_symbols.append(symbols[i])
                    i += 1
            splits[word] = new_symbols
    return merges


def apply_bpe(word: str, merges: list[tuple[str, str]]) -> list[str]:
    """The chapter's `apply_bpe`: apply the merges in the order they were learned."""
    symbols = list(word)
    for merge in merges:
        new_symbols, i = [], 0
        while i < len(symbols):
            if i < len(symbols) - 1 and symbols[i] == merge[0] and symbols[i + 1] == merge[1]:
                new_symbols.append(merge[0] + merge[1])
                i += 2
            else:
                new_symbols.append(symbols[i])
                i += 1
        symbols = new_symbols
    return symbols


@pytest.fixture(scope="module")
def texts(text_sources):
    return text_sources.books(60_000) + text_sources.wiki(60_000) + text_sources.multilingual()


@pytest.fixture(scope="module")
def trained(texts):
    return train_bpe(texts, vocab_size=1500)


def test_production_merges_equal_the_chapters_learner(text_sources):
    texts = text_sources.books(30_000) + text_sources.multilingual()[:20]
    vocab_size, min_frequency = 700, 2
    tokenizer = train_bpe(texts, vocab_size, min_frequency)
    words = Counter(piece for text in texts for piece, _ in new_tokenizer().pre_tokenizer.pre_tokenize_str(text))
    alphabet = [EOT] + sorted(pre_tokenizers.ByteLevel.alphabet())
    reference = learn_bpe(dict(words), vocab_size - len(alphabet), alphabet, min_frequency)
    production = [tuple(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]]
    assert len(production) == vocab_size - len(alphabet)
    assert production == reference
    for word, (start, end) in new_tokenizer().pre_tokenizer.pre_tokenize_str(texts[0])[:400]:
        assert apply_bpe(word, reference) == tokenizer.encode(texts[0][start:end]).tokens


def test_decode_of_encode_is_the_text_in_every_script(trained, text_sources):
    samples = text_sources.multilingual() + [
        "  leading spaces,\ttabs\r\nand CRLF  ", "emoji 🎉👍🏽, zero\u200bwidth, combining é", f"a literal {EOT} in text",
    ]
    for text in samples:
        ids = Encoder(trained.to_str(), "tiktoken").encode_batch([text])[0]
        assert trained.decode(ids) == text


def test_tiktoken_and_tokenizers_give_identical_ids(trained, texts, text_sources):
    docs = texts + text_sources.web(100_000) + [f"ends with {EOT}", "'s 'S 'll n't \u00a0nbsp"]
    hf = Encoder(trained.to_str(), "hf").encode_batch(docs)
    fast = Encoder(trained.to_str(), "tiktoken", threads=2).encode_batch(docs)
    assert fast == hf
    assert trained.token_to_id(EOT) == 0 and all(0 not in ids for ids in fast)


def test_train_tokenizer_is_deterministic_and_weighted(tmp_path, text_sources):
    curated = pack_corpus.write_curated(tmp_path / "curated", {
        "books": text_sources.books(200_000), "web": text_sources.web(200_000)})
    first = train_tokenizer(str(curated), str(tmp_path / "a.json"), vocab_size=600, sample_bytes=120_000,
                            mixture={"books": 0.75, "web": 0.25})
    train_tokenizer(str(curated), str(tmp_path / "b.json"), vocab_size=600, sample_bytes=120_000,
                    mixture={"books": 0.75, "web": 0.25})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    taken = first["sample_bytes"]
    assert taken["books"] > 2 * taken["web"] > 0
    assert 0.6 * 120_000 < sum(taken.values()) < 1.6 * 120_000
    tokenizer = Tokenizer.from_file(str(tmp_path / "a.json"))
    assert tokenizer.get_vocab_size() == 600 and tokenizer.token_to_id(EOT) == 0


def test_cli_train_encode_decode(tmp_path, text_sources):
    curated = pack_corpus.write_curated(tmp_path / "curated", {"wiki": text_sources.wiki(100_000)})
    runner = CliRunner()
    out = tmp_path / "tokenizer.json"
    result = runner.invoke(cli, ["tokenizer", "train", "--input", str(curated), "--vocab-size", "500",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    encoded = runner.invoke(cli, ["tokenizer", "encode", "--tokenizer", str(out), "Valkyria Chronicles"])
    ids = encoded.output.splitlines()[0].split()
    decoded = runner.invoke(cli, ["tokenizer", "decode", "--tokenizer", str(out), *ids])
    assert decoded.output == "Valkyria Chronicles\n"
    missing = runner.invoke(cli, ["tokenizer", "train", "--input", str(tmp_path / "nowhere"), "--output", str(out)])
    assert missing.exit_code != 0 and "no such curated folder" in missing.output


@pytest.fixture(scope="module")
def generated_curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    return pack_corpus.write_curated(root / "curated", {
        "web": pack_corpus.generated(400, seed=1), "books": pack_corpus.generated(200, seed=2)}, parts=3)


@pytest.fixture(scope="module")
def trained_once(generated_curated, tmp_path_factory):
    """A tokenizer folder from the sample drawn by one worker, with seq_len 24 in the pack section."""
    folder = tmp_path_factory.mktemp("one")
    summary = train_tokenizer(str(generated_curated), str(folder / "tokenizer.json"), Config(pack={"seq_len": 24}),
                              vocab_size=500, sample_bytes=60_000, mixture={"web": 0.75, "books": 0.25})
    return folder, summary


def test_the_sample_is_drawn_in_beam_the_same_with_two_workers(generated_curated, trained_once, tmp_path):
    one, summary = trained_once
    two = train_tokenizer(str(generated_curated), str(tmp_path / "tokenizer.json"), Config(pack={"seq_len": 24}),
                          vocab_size=500, sample_bytes=60_000, mixture={"web": 0.75, "books": 0.25}, workers=2)
    assert two == summary
    names = ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    assert sorted(p.name for p in one.iterdir()) == ["run.json", *names], "no sample left behind"
    assert all((one / name).read_bytes() == (tmp_path / name).read_bytes() for name in names)
    taken = summary["sample_bytes"]
    assert 2 * taken["books"] < taken["web"] and 0.6 * 60_000 < sum(taken.values()) < 1.6 * 60_000


def test_transformers_autotokenizer_pads_and_stops_with_end_of_text(trained_once):
    from transformers import AutoTokenizer

    folder, _ = trained_once
    auto = AutoTokenizer.from_pretrained(str(folder))
    assert (auto.eos_token, auto.pad_token) == (EOT, EOT)
    assert auto.eos_token_id == auto.pad_token_id == 0 and auto.model_max_length == 24
    texts = pack_corpus.generated(3, seed=5)
    batch = auto(["Kalo ri.", texts[0]], padding=True, truncation=True)
    short, long = batch["input_ids"]
    assert len(long) == 24 and len(short) == 24 and short[-1] == 0
    assert batch["attention_mask"][0] == [1] * short.index(0) + [0] * (24 - short.index(0))
    ours = Encoder((folder / "tokenizer.json").read_text(), "tiktoken").encode_batch(texts)
    assert [auto(t)["input_ids"] for t in texts] == ours, "no special token added, the same ids as pack"
    assert auto.decode(ours[1] + [0], skip_special_tokens=True) == texts[1]


def test_a_bad_shard_stops_the_sample_with_its_name(generated_curated, tmp_path):
    broken = tmp_path / "curated" / "web"
    broken.mkdir(parents=True)
    (broken / "part-00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="web/part-00000.parquet: not a readable Parquet file"):
        train_tokenizer(str(tmp_path / "curated"), str(tmp_path / "tokenizer.json"), vocab_size=500)


class CountedReads:
    """A file opened through FileSystems, counting the bytes read from it."""

    def __init__(self, path: str, handle):
        self.path, self.handle, self.bytes = path, handle, 0

    def read(self, size=-1):
        data = self.handle.read(size)
        self.bytes += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_the_sample_reads_ids_and_the_text_of_only_the_row_groups_it_draws_from(tmp_path, monkeypatch):
    shard = tmp_path / "part-00000-0000.parquet"
    ids, texts = [f"doc-{i}" for i in range(4000)], pack_corpus.generated(4000, seed=4)
    pq.write_table(pa.table({"id": ids, "text": texts}), shard, row_group_size=100, compression="zstd")
    opened, open_file = [], FileSystems.open
    monkeypatch.setattr(FileSystems, "open", lambda path, *a, **k: opened.append(CountedReads(path, open_file(
        path, *a, **k))) or opened[-1])

    _, text_bytes = shard_text_bytes(("web", str(shard)))
    budget = text_bytes // 1000   # about four documents of 4,000
    [chosen] = ChooseRows({}, budget, seed=0).process(("web", str(shard)), sizes={"web": text_bytes})
    [drawn] = WriteSampleFile(str(tmp_path / "work")).process((3, [chosen]))
    threshold = sample_threshold("web", {"web": text_bytes}, {}, budget)
    expected = [text for doc_id, text in zip(ids, texts) if stable_hash("0", "web", doc_id) < threshold]
    assert 1 <= len(chosen.rows) <= 10 and drawn.path.endswith("work/sample-003.parquet")
    assert pq.read_table(drawn.path).column("text").to_pylist() == expected
    assert drawn.taken == {"web": sum(len(text.encode()) for text in expected)}

    metadata = pq.read_metadata(shard)
    column = {name: index for index, name in enumerate(metadata.schema.names)}
    touched = {row // 100 for row in chosen.rows}
    assert len(touched) <= 10, "the text of most row groups is never read"
    ids_bytes = sum(metadata.row_group(g).column(column["id"]).total_compressed_size for g in range(40))
    text_bytes = sum(metadata.row_group(g).column(column["text"]).total_compressed_size for g in touched)
    footers = 3 * (65_536 + metadata.serialized_size)   # pyarrow's footer reads, at each of three openings
    read = sum(handle.bytes for handle in opened if handle.path == str(shard))
    assert read <= footers + ids_bytes + text_bytes
