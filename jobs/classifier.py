"""`tokenmill classifier`: train a fastText quality classifier on the user's own sources, and score one.

    tokenmill classifier train --positive wiki=mediawiki:'wiki/*.xml.bz2' --positive books=book:'pg/*.txt' \\
                               --negative crawl=warc:'cc/*.warc.gz' --output quality.bin
    tokenmill classifier eval --model quality.bin --labelled dclm=jsonl:'dclm/*.jsonl.gz' --label-field label

GPT-3 (Brown et al. 2020, appendix A) and DCLM (Li et al. 2024) trained such a classifier: reference
text (books, Wikipedia, curated web) as positives against raw crawl as negatives. Sources are read
with curate's readers and the same `NAME=FORMAT:GLOB` syntax; each document is cleaned as the
clean-text stage cleans it and turned into the line the quality-model stage scores
(`filters.quality_model.model_line`). A stable hash of each document puts `--heldout` of them aside;
the larger class is cut to the smaller one's size (DCLM trains on balanced classes), and the
training lines are shuffled by a seeded hash. fastText runs on one thread, so the model file is the
same on every run with the same seed. Precision, recall and ROC AUC on the held-out documents are
printed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional, Sequence

import click

from tokenmill.filters.clean_text import clean_text
from tokenmill.filters.document import Document, stable_hash
from tokenmill.filters.langid import load_fasttext_model
from tokenmill.filters.quality_model import NEGATIVE_LABEL, POSITIVE_LABEL, check_label, label_probabilities, model_line
from tokenmill.jobs.sources import read_documents
from tokenmill.pipeline.schema import ConfigError


@dataclass(frozen=True)
class Example:
    line: str       # what the model reads
    positive: bool
    key: int        # a stable hash of the document: the held-out split and the shuffle use it


def to_example(doc: Document, positive: bool) -> Optional[Example]:
    line = model_line(clean_text(doc.text)[0])
    return Example(line, positive, stable_hash(doc.id, line)) if line else None


def examples(flags: Sequence[str], positive: bool) -> list[Example]:
    found = (to_example(doc, positive) for flag in flags for doc in read_documents(flag))
    return [e for e in found if e is not None]


def labelled_examples(flags: Sequence[str], label_field: str, positive_values: Sequence[str]) -> list[Example]:
    """Examples from sources whose records carry their label in `label_field` (JSONL, Parquet)."""
    wanted = {str(v) for v in positive_values}
    out = []
    for flag in flags:
        for doc in read_documents(flag):
            if label_field not in doc.meta:
                raise ConfigError(f"{flag}: document {doc.id} has no field {label_field!r}")
            example = to_example(doc, str(doc.meta[label_field]) in wanted)
            if example is not None:
                out.append(example)
    return out


def split(items: Sequence[Example], heldout: float) -> tuple[list[Example], list[Example]]:
    """(train, held out): a document is held out when its stable hash falls in the first `heldout` share."""
    cut = int(heldout * 10_000)
    train = [e for e in items if e.key % 10_000 >= cut]
    return train, [e for e in items if e.key % 10_000 < cut]


def balanced_shuffle(train: Sequence[Example], seed: int) -> list[Example]:
    """Both classes cut to the smaller one's size (the documents kept chosen by seeded hash), mixed."""
    order = sorted(train, key=lambda e: stable_hash(str(seed), str(e.key)))
    size = min(sum(e.positive for e in order), sum(not e.positive for e in order))
    kept, taken = [], {True: 0, False: 0}
    for example in order:
        if taken[example.positive] < size:
            taken[example.positive] += 1
            kept.append(example)
    return kept


# fastText 0.9.2 initialises only the first tenth of its input matrix per training thread
# (DenseMatrix::uniformThread cuts it in ten blocks); with one thread the other nine tenths keep
# whatever the allocator returns: zeros from fresh pages, or stale heap bytes that make training
# differ from run to run or abort with "Encountered NaN". Training runs in a child process whose
# allocator takes every buffer over 64 kB from fresh, zeroed pages, so the result depends only on
# the data and the seed.
FIT_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}
FIT_SCRIPT = """
import json, sys
import fasttext
arguments = json.loads(sys.argv[1])
output = arguments.pop("output")
fasttext.train_supervised(**arguments).save_model(output)
"""


def train_model(train: Sequence[Example], output: str, seed: int, epoch: int, lr: float, dim: int, word_ngrams: int,
                min_count: int, bucket: int):
    """Train on `train` (one thread, seeded) and save the model to `output`; returns the model."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as file:
        for example in train:
            file.write(f"{POSITIVE_LABEL if example.positive else NEGATIVE_LABEL} {example.line}\n")
    arguments = dict(input=file.name, output=output, epoch=epoch, lr=lr, dim=dim, wordNgrams=word_ngrams,
                     minCount=min_count, bucket=bucket, loss="softmax", thread=1, seed=seed, verbose=0)
    try:
        result = subprocess.run([sys.executable, "-c", FIT_SCRIPT, json.dumps(arguments)], capture_output=True,
                                text=True, env={**os.environ, **FIT_ENV})
    finally:
        os.unlink(file.name)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "training failed")
    load_fasttext_model.cache_clear()  # a model saved under the same path before is stale
    return load_fasttext_model(output)


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """The probability that a random positive outscores a random negative (ties count half)."""
    ranked = sorted(zip(scores, positive))
    n_pos = sum(positive)
    n_neg = len(ranked) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2  # ranks i+1 .. j
        rank_sum += average_rank * sum(1 for _, p in ranked[i:j] if p)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass(frozen=True)
class Scores:
    documents: int
    positives: int
    precision: float
    recall: float
    auc: float


def evaluate(model, items: Sequence[Example], threshold: float = 0.5, label: str = POSITIVE_LABEL) -> Scores:
    scores = label_probabilities(model, [e.line for e in items], label)
    truth = [e.positive for e in items]
    predicted = [s >= threshold for s in scores]
    true_pos = sum(p and t for p, t in zip(predicted, truth))
    return Scores(len(items), sum(truth), true_pos / max(1, sum(predicted)), true_pos / max(1, sum(truth)),
                  roc_auc(scores, truth))


def describe(scores: Scores, threshold: float) -> str:
    return (f"{scores.documents:,} documents ({scores.positives:,} positive): precision {scores.precision:.3f}, "
            f"recall {scores.recall:.3f} at {threshold:g}, ROC AUC {scores.auc:.3f}")


@click.group("classifier")
def classifier_group() -> None:
    """Train and evaluate fastText quality classifiers (the quality-model stage's models)."""


@classifier_group.command("train")
@click.option("--positive", "positives", multiple=True, required=True, metavar="NAME=FORMAT:GLOB",
              help="Reference text (books, Wikipedia, curated web). Repeatable.")
@click.option("--negative", "negatives", multiple=True, required=True, metavar="NAME=FORMAT:GLOB",
              help="Raw crawl. Repeatable.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="Model file (.bin).")
@click.option("--heldout", default=0.1, show_default=True, help="Share of documents held out for the scores.")
@click.option("--seed", default=1, show_default=True)
@click.option("--epoch", default=5, show_default=True)
@click.option("--lr", default=0.1, show_default=True)
@click.option("--dim", default=64, show_default=True)
@click.option("--word-ngrams", default=2, show_default=True, help="2: words and word bigrams (DCLM).")
@click.option("--min-count", default=2, show_default=True)
@click.option("--bucket", default=200_000, show_default=True, help="Hash buckets for the bigrams (the model's size).")
def train_command(positives, negatives, output, heldout, seed, epoch, lr, dim, word_ngrams, min_count, bucket):
    """Train a fastText classifier: __label__hq (positives) against __label__cc (negatives)."""
    if not 0.0 <= heldout < 1.0:
        raise click.BadParameter("must be in [0, 1)", param_hint="--heldout")
    try:
        items = examples(positives, True) + examples(negatives, False)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    train, held = split(items, heldout)
    train = balanced_shuffle(train, seed)
    if not train:
        raise click.ClickException("no training documents in one of the classes")
    click.echo(f"read {sum(e.positive for e in items):,} positive and {sum(not e.positive for e in items):,} negative "
               f"documents; training on {len(train):,} (balanced), {len(held):,} held out")
    try:
        model = train_model(train, output, seed, epoch, lr, dim, word_ngrams, min_count, bucket)
    except RuntimeError as err:
        raise click.ClickException(f"fastText: {err}") from None
    if held:
        click.echo(f"held out: {describe(evaluate(model, held), 0.5)}")
    click.echo(f"model → {output}")


@classifier_group.command("eval")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--positive", "positives", multiple=True, metavar="NAME=FORMAT:GLOB")
@click.option("--negative", "negatives", multiple=True, metavar="NAME=FORMAT:GLOB")
@click.option("--labelled", "labelled", multiple=True, metavar="NAME=FORMAT:GLOB",
              help="Documents that carry their label in --label-field (JSONL, Parquet).")
@click.option("--label-field", default="label", show_default=True)
@click.option("--positive-value", "positive_values", multiple=True, default=("1",), show_default=True)
@click.option("--label", default=POSITIVE_LABEL, show_default=True, help="The model's label whose probability scores.")
@click.option("--threshold", default=0.5, show_default=True)
def eval_command(model_path, positives, negatives, labelled, label_field, positive_values, label, threshold):
    """Score a labelled set: precision and recall at --threshold, ROC AUC."""
    try:
        items = (examples(positives, True) + examples(negatives, False)
                 + labelled_examples(labelled, label_field, positive_values))
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    if not items:
        raise click.ClickException("no documents: give --positive/--negative or --labelled sources")
    model = load_fasttext_model(model_path)
    try:
        check_label(model, label, model_path)
    except ValueError as err:
        raise click.ClickException(f"--{err}") from None
    click.echo(describe(evaluate(model, items, threshold, label), threshold))
