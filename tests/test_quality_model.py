"""`tokenmill classifier train/eval` and the quality-model stage, on generated prose and spam."""
import json
import random

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tokenmill.filters.document import Document
from tokenmill.filters.quality_model import ModelRule, QualityModelFilter, model_line, top_fraction_threshold
from tokenmill.jobs.classifier import classifier_group, roc_auc
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig

def vocabulary(seed, size):
    rng = random.Random(seed)
    return ["".join(rng.choice("abcdefghijklmnoprstuvwy") for _ in range(rng.randint(2, 9))) for _ in range(size)]


# Two languages of made-up words with a Zipf-like spread, as real text has.
PROSE, SPAM = vocabulary(1, 3000), vocabulary(2, 3000)


def documents(words, count, seed, length=80):
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=length)).capitalize() + "." for _ in range(count)]


def write_jsonl(path, texts, **fields):
    path.write_text("".join(json.dumps({"id": f"{path.stem}-{i}", "text": t, **fields}) + "\n"
                            for i, t in enumerate(texts)))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    write_jsonl(folder / "good.jsonl", documents(PROSE, 200, 1))
    write_jsonl(folder / "bad.jsonl", documents(SPAM, 150, 2))
    args = ["train", "--positive", f"good=jsonl:{folder}/good.jsonl", "--negative", f"bad=jsonl:{folder}/bad.jsonl",
            "--bucket", "5000", "--dim", "32", "--heldout", "0.2"]
    runs = [CliRunner().invoke(classifier_group, args + ["--output", str(folder / f"model{i}.bin")]) for i in (1, 2)]
    return folder, runs


def test_train_prints_heldout_scores_and_is_deterministic(trained):
    folder, runs = trained
    for run in runs:
        assert run.exit_code == 0, run.output
    assert "read 200 positive and 150 negative documents" in runs[0].output
    assert "ROC AUC 1.000" in runs[0].output
    assert (folder / "model1.bin").read_bytes() == (folder / "model2.bin").read_bytes()


def test_eval_scores_a_labelled_set(trained):
    folder, _ = trained
    mixed = [{"text": t, "label": "1"} for t in documents(PROSE, 20, 3)] + \
            [{"text": t, "label": "0"} for t in documents(SPAM, 30, 4)]
    (folder / "labelled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mixed))
    run = CliRunner().invoke(classifier_group, ["eval", "--model", str(folder / "model1.bin"),
                                                "--labelled", f"x=jsonl:{folder}/labelled.jsonl"])
    assert run.exit_code == 0, run.output
    assert "50 documents (20 positive): precision 1.000, recall 1.000 at 0.5, ROC AUC 1.000" in run.output


def test_train_names_a_source_that_matches_nothing(tmp_path):
    run = CliRunner().invoke(classifier_group, ["train", "--positive", f"a=jsonl:{tmp_path}/none*.jsonl",
                                                "--negative", f"b=jsonl:{tmp_path}/x.jsonl", "-o", str(tmp_path / "m")])
    assert run.exit_code != 0 and "matches no file" in run.output


def test_filter_scores_and_drops_below_the_threshold(trained):
    folder, _ = trained
    doc_filter = QualityModelFilter([ModelRule("mine", str(folder / "model1.bin"), threshold=0.5)])
    good, bad = Document("g", "s", documents(PROSE, 1, 9)[0]), Document("b", "s", documents(SPAM, 1, 9)[0])
    assert doc_filter.filter_batch([good, bad]) == [None, "mine"]
    assert good.signals["quality_model_mine"] > 0.5 > bad.signals["quality_model_mine"]
    with pytest.raises(ValueError, match="is not a label"):
        QualityModelFilter([ModelRule("x", str(folder / "model1.bin"), label="__label__nope", threshold=0.5)]).setup()


def test_model_line_is_one_lower_case_line_of_words_and_marks():
    assert model_line("Hello,\u00a0World!\nNew  line") == "hello , world ! new line"


def test_top_fraction_threshold_counts_documents_per_score():
    counts = {0.9: 1, 0.8: 2, 0.5: 3, 0.1: 4}
    assert top_fraction_threshold(counts, 0.1) == 0.9
    assert top_fraction_threshold(counts, 0.2) == 0.8   # the tie at 0.8 is kept whole: 3 of 10
    assert top_fraction_threshold(counts, 0.3) == 0.8
    assert top_fraction_threshold(counts, 1.0) == 0.1
    assert top_fraction_threshold({}, 0.5) == float("-inf")


def test_roc_auc_counts_ties_half():
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.1, 0.9, 0.5, 0.3], [True, False, True, False]) == 0.25


def test_stage_keeps_the_top_fraction_of_the_corpus(trained, tmp_path):
    folder, _ = trained
    texts = documents(PROSE, 30, 5) + documents(SPAM, 30, 6)
    # Half-and-half mixtures score in between: the top 25% of 40 are the 10 most prose-like.
    texts += [a + " " + b for a, b in zip(documents(PROSE, 20, 7, 40), documents(SPAM, 20, 8, 40))]
    write_jsonl(tmp_path / "mix.jsonl", texts)
    config = Config(sources={"mix": SourceConfig("jsonl", [str(tmp_path / "mix.jsonl")])},
                    stages={"quality-model": {"models": {
                        "mine": {"path": str(folder / "model1.bin"), "threshold": 0.5},
                        "top": {"path": str(folder / "model1.bin"), "top_fraction": 0.25}}}})
    ledger = curate(config, str(tmp_path / "out"), ["quality-model"])
    removed = ledger["removed"]["mix"]
    kept = ledger["kept"]["mix"]
    assert removed["quality-model/mine"] >= 30           # the spam, under the threshold
    scored = 80 - removed["quality-model/mine"]
    assert kept == pytest.approx(0.25 * scored, abs=1)   # of the rest, the best quarter (no ties here)
    table = pq.read_table(tmp_path / "out" / "curated").to_pydict()
    assert min(table["quality_model_top"]) >= 0.5


def test_stage_without_models_is_a_config_error(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", ["text"])
    config = Config(sources={"a": SourceConfig("jsonl", [str(tmp_path / "a.jsonl")])})
    with pytest.raises(ValueError, match="name at least one model"):
        curate(config, str(tmp_path / "out"), ["quality-model"])


def test_a_missing_model_file_is_a_config_error(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", ["text"])
    config = Config(sources={"a": SourceConfig("jsonl", [str(tmp_path / "a.jsonl")])},
                    stages={"quality-model": {"models": {"dclm": {"path": str(tmp_path / "no.bin"), "threshold": 0.5}}}})
    with pytest.raises(ValueError, match="quality-model.models.dclm.path: .* is not a file"):
        curate(config, str(tmp_path / "out"), ["quality-model"])


def tiny_hf_model(folder, num_labels, labels=None):
    """A one-layer BERT with a word-level tokenizer, built here (random weights, nothing downloaded)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = sorted(set(PROSE[:200] + SPAM[:200]))
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, **{w: i + 4 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128, num_labels=num_labels,
                        **({"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}
                           if labels else {}))
    BertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


def test_hf_model_scores_in_batches_as_one_at_a_time(tmp_path):
    pytest.importorskip("transformers")
    from tokenmill.filters.hf_classifier import HfScorer

    texts = documents(PROSE, 5, 11, 30) + documents(SPAM, 5, 12, 90)
    regression = HfScorer(tiny_hf_model(tmp_path / "edu", 1), "unused", max_tokens=64, batch_size=4)
    batched = regression.scores(texts)
    assert batched == pytest.approx([regression.scores([t])[0] for t in texts], abs=1e-5)
    classes = HfScorer(tiny_hf_model(tmp_path / "cls", 2, ["low", "high"]), "high", max_tokens=64)
    assert all(0.0 <= p <= 1.0 for p in classes.scores(texts))
    with pytest.raises(ValueError, match="is not a class"):
        HfScorer(str(tmp_path / "cls"), "__label__hq").setup()


def test_stage_with_an_hf_model_keeps_the_top_fraction(tmp_path):
    pytest.importorskip("transformers")
    write_jsonl(tmp_path / "docs.jsonl", documents(PROSE, 10, 13, 40) + documents(SPAM, 10, 14, 40))
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "docs.jsonl")])},
                    stages={"quality-model": {"batch_size": 8, "models": {"edu": {
                        "path": tiny_hf_model(tmp_path / "edu", 1), "kind": "hf", "top_fraction": 0.5}}}})
    ledger = curate(config, str(tmp_path / "out"), ["quality-model"])
    assert ledger["kept"]["web"] == 10 and ledger["removed"]["web"] == {"quality-model/edu": 10}
    assert pq.read_table(tmp_path / "out" / "curated").column("quality_model_edu").null_count == 0


def test_top_fraction_is_of_the_documents_dedup_keeps(trained, tmp_path):
    """The stage runs after dedup: ten copies of one page count once in the fraction, and the scores
    reach the cut from the staged shards, not with their documents."""
    folder, _ = trained
    texts = [a + " " + b for a, b in zip(documents(PROSE, 20, 21, 40), documents(SPAM, 20, 22, 40))]
    texts += [documents(PROSE, 1, 23)[0]] * 10
    write_jsonl(tmp_path / "a.jsonl", texts[:15])
    write_jsonl(tmp_path / "b.jsonl", texts[15:])
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "*.jsonl")])},
                    stages={"quality-model": {"batch_size": 4, "models": {
                        "top": {"path": str(folder / "model1.bin"), "top_fraction": 0.5}}}})
    ledger = curate(config, str(tmp_path / "out"), ["exact-dedup", "quality-model"])
    removed = ledger["removed"]["web"]
    assert removed["exact-dedup/duplicate"] == 9
    assert ledger["kept"]["web"] == round(0.5 * 21)       # of the 21 distinct pages, not of 30
    assert removed["quality-model/top"] == 21 - ledger["kept"]["web"]
    kept = pq.read_table(tmp_path / "out" / "curated").to_pydict()
    assert documents(PROSE, 1, 23)[0] in kept["text"]     # the prose page outscores every mixture


def test_eval_refuses_a_label_the_model_lacks_and_says_what_it_could_not_read(trained):
    folder, _ = trained
    (folder / "broken.parquet").write_bytes(b"not parquet at all")
    labelled = CliRunner().invoke(classifier_group, ["eval", "--model", str(folder / "model1.bin"),
                                                     "--positive", f"g=jsonl:{folder}/good.jsonl",
                                                     "--negative", f"b=parquet:{folder}/broken.parquet",
                                                     "--label", "__label__hg"])
    assert labelled.exit_code != 0 and "'__label__hg' is not a label" in labelled.output
    assert "b=parquet:" in labelled.output and "1 records unreadable" in labelled.output
