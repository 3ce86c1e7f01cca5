"""Model-based quality: fastText classifiers given by path score every document (DCLM's filter).

DCLM (Li et al. 2024, section 4.4) trains a fastText classifier with word bigrams on reference
text (OpenHermes, ELI5) against raw crawl and keeps the top 10% of its pool by the positive
label's probability; GPT-3 (Brown et al. 2020, appendix A) did the same with books, Wikipedia
and WebText against Common Crawl. A model here is any fastText supervised model: one trained
with `tokenmill classifier train` (labels `__label__hq` and `__label__cc`, as DCLM's), DCLM's
`openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin`, or Nemotron-CLIMB's. A Hugging Face
sequence-classification model (FineWeb-Edu's) scores through the same stage (`kind: hf`,
filters/hf_classifier.py).

The text a model sees is `model_line(text)`: one line, lower case, words and punctuation apart.
Training (`jobs/classifier.py`) and scoring use this one function, so a model scores text as it
was trained on it. A model given by a remote path is copied to the worker once per process, through
the `SideFiles` given (the pipeline passes Beam's file systems).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional, Sequence

from tokenmill.filters.base import Bounds, DocumentFilter, SignalTypes
from tokenmill.filters.document import Document
from tokenmill.filters.hf_classifier import DEFAULT_BATCH_SIZE, HfScorer
from tokenmill.filters.langid import load_fasttext_model
from tokenmill.filters.side_files import LOCAL, SideFiles, local_path
from tokenmill.filters.textguard import DEFAULT_MAX_CHARS, unfit_reason

POSITIVE_LABEL = "__label__hq"
NEGATIVE_LABEL = "__label__cc"
# The head of a document decides its score; fastText's cost grows with the words it reads.
MAX_MODEL_CHARS = 20_000
_TOKENS = re.compile(r"\w+|[^\w\s]")
# Scores are kept to this many decimals: the top-fraction cut counts documents per rounded score.
SCORE_DECIMALS = 6


def model_line(text: str) -> str:
    """The text as a classifier reads it: its first MAX_MODEL_CHARS characters as one lower-case line
    of words and punctuation marks separated by single spaces."""
    return " ".join(_TOKENS.findall(text[:MAX_MODEL_CHARS].lower()))


def signal_name(model: str) -> str:
    return f"quality_model_{model}"


@dataclass(frozen=True)
class ModelRule:
    """One model: its kind and path, the label whose probability is the score, and the rule that
    keeps a document: score ≥ `threshold`, and/or among the `top_fraction` best-scored of the corpus."""

    name: str
    path: str
    label: str = POSITIVE_LABEL
    threshold: Optional[float] = None
    top_fraction: Optional[float] = None
    kind: Literal["fasttext", "hf"] = "fasttext"


def check_label(model, label: str, path: str) -> None:
    """A ValueError naming the model's labels when `label` is not one of them."""
    if label not in model.get_labels():
        raise ValueError(f"label: {label!r} is not a label of {path} ({', '.join(model.get_labels())})")


def label_probabilities(model, lines: Sequence[str], label: str) -> list[float]:
    """The probability a fastText model gives `label` for each line (model_line's form)."""
    labels, probabilities = model.predict(list(lines), k=-1)
    return [min(float(dict(zip(ls, ps)).get(label, 0.0)), 1.0) for ls, ps in zip(labels, probabilities)]


class FastTextScorer:
    """The probability of `label` for each text, by a fastText model (loaded once per process)."""

    def __init__(self, path: str, label: str, files: SideFiles = LOCAL):
        self.path = path
        self.label = label
        self.files = files
        self._model = None

    def setup(self) -> None:
        self._model = load_fasttext_model(local_path(self.path, self.files))
        check_label(self._model, self.label, self.path)

    def scores(self, texts: Sequence[str]) -> list[float]:
        if self._model is None:
            self.setup()
        return label_probabilities(self._model, [model_line(text) for text in texts], self.label)

    def __getstate__(self):
        return {**self.__dict__, "_model": None}


class ModelScorer:
    """Scores documents with each model, in one batch call per model."""

    def __init__(self, rules: Sequence[ModelRule], batch_size: int = DEFAULT_BATCH_SIZE, files: SideFiles = LOCAL):
        self.rules = list(rules)
        self.scorers = [FastTextScorer(r.path, r.label, files) if r.kind == "fasttext"
                        else HfScorer(r.path, r.label, batch_size=batch_size, files=files) for r in self.rules]

    def setup(self) -> None:
        for rule, scorer in zip(self.rules, self.scorers):
            try:
                scorer.setup()
            except ValueError as err:
                raise ValueError(f"quality-model.models.{rule.name}.{err}") from None

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """For each text, {model name: its score}."""
        out: list[dict[str, float]] = [{} for _ in texts]
        for rule, scorer in zip(self.rules, self.scorers):
            for row, score in zip(out, scorer.scores(texts)):
                row[rule.name] = round(score, SCORE_DECIMALS)
        return out


class QualityModelFilter(DocumentFilter):
    """Score a document with every model (a `quality_model_<name>` column each) and drop it, as
    `quality-model/<name>`, under the first model whose threshold it misses. Top-fraction rules are
    applied after the whole corpus is scored (transforms/quality_model.py)."""

    stage = "quality-model"

    def __init__(self, rules: Sequence[ModelRule], max_chars: int = DEFAULT_MAX_CHARS,
                 batch_size: int = DEFAULT_BATCH_SIZE, files: SideFiles = LOCAL):
        self.scorer = ModelScorer(rules, batch_size, files)
        self.max_chars = max_chars

    @property
    def rules(self) -> list[ModelRule]:
        return self.scorer.rules

    def signal_types(self) -> SignalTypes:
        return {signal_name(rule.name): "float" for rule in self.rules}

    def thresholds(self) -> dict[str, Bounds]:
        return {signal_name(r.name): (r.threshold, None) for r in self.rules if r.threshold is not None}

    def setup(self) -> None:
        self.scorer.setup()

    def __call__(self, doc: Document) -> Optional[str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, docs: Sequence[Document]) -> list[Optional[str]]:
        verdicts: list[Optional[str]] = [unfit_reason(doc.text, self.max_chars) for doc in docs]
        fit = [i for i, verdict in enumerate(verdicts) if verdict is None]
        for i, scores in zip(fit, self.scorer.scores([docs[i].text for i in fit])):
            for rule in self.rules:
                docs[i].signals[signal_name(rule.name)] = scores[rule.name]
            verdicts[i] = below_threshold(self.rules, docs[i].signals)
        return verdicts


def below_threshold(rules: Sequence[ModelRule], signals: dict) -> Optional[str]:
    """The first model whose fixed threshold the document's scores (its signals) miss, or None."""
    return next((rule.name for rule in rules
                 if rule.threshold is not None and signals[signal_name(rule.name)] < rule.threshold), None)


def top_fraction_threshold(counts: dict[float, int], fraction: float) -> float:
    """The lowest score kept when the `fraction` best-scored documents are kept, from the number of
    documents at each score: every document scoring at least the returned value is kept (ties at the
    cut are all kept, so the kept share can exceed `fraction` by the size of one tie)."""
    total = sum(counts.values())
    wanted = max(1, round(fraction * total))
    seen = 0
    for score in sorted(counts, reverse=True):
        seen += counts[score]
        if seen >= wanted:
            return score
    return float("-inf")
