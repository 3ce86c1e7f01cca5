"""Multiple-choice sets in their common layouts, and `acc`/`acc_norm` as lm-evaluation-harness defines them.

A file is JSON Lines (`.jsonl`, `.json`, optionally `.gz`) or Parquet, one question a record, in one of:

- HellaSwag (Zellers et al. 2019): `ctx` (or `ctx_a` + `ctx_b`), `endings`, `label`, optional
  `activity_label`; formatted as lm-evaluation-harness's `hellaswag` task does
  (`activity_label: ctx_a Ctx_b`, WikiHow's bracketed artefacts removed).
- ARC (Clark et al. 2018): `question`, `choices` {`text`, `label`}, `answerKey` (Hugging Face's
  layout), or AI2's release layout with the choices inside `question`; prompt
  "Question: {question}\\nAnswer:".
- PIQA (Bisk et al. 2020): `goal`, `sol1`, `sol2` and `label`, or the labels in the release's
  file beside it (`valid.jsonl` → `valid-labels.lst`, one label a line); prompt
  "Question: {goal}\\nAnswer:".

Each choice is scored as the continuation " " + choice of the prompt (the harness's target
delimiter). `acc` counts the questions whose gold choice has the highest log-likelihood;
`acc_norm` divides each log-likelihood by the choice's length in characters first
(`lm_eval/api/task.py`, `process_results` of multiple-choice tasks). A record that cannot be read
as its layout is counted by reason, never used silently.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from tokenmill.jobs.eval.intervals import mean_stderr, wilson_interval
from tokenmill.jobs.eval.scoring import Progress, ScoringModel, Span, score_spans

TARGET_DELIMITER = " "


@dataclass(frozen=True)
class ChoiceItem:
    context: str
    choices: tuple[str, ...]
    gold: int


@dataclass
class ChoiceSet:
    layout: str
    items: list[ChoiceItem]
    skipped: Counter = field(default_factory=Counter)  # reason -> records not used


class BadRecord(ValueError):
    """A record that does not fit its layout; the message is the reason counted."""


def hellaswag_preprocess(text: str) -> str:
    """lm-evaluation-harness's `hellaswag/utils.py` `preprocess`."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def hellaswag_item(record: dict) -> ChoiceItem:
    if "ctx_a" in record and "ctx_b" in record:
        ctx = record["ctx_a"] + " " + record["ctx_b"].capitalize()
    else:
        ctx = record["ctx"]
    label = record.get("activity_label")
    query = hellaswag_preprocess(f"{label}: {ctx}" if label is not None else ctx)
    return ChoiceItem(query, tuple(hellaswag_preprocess(e) for e in record["endings"]), int(record["label"]))


def arc_item(record: dict) -> ChoiceItem:
    question, choices = record["question"], record.get("choices")
    if isinstance(question, dict):  # AI2's release: {"question": {"stem", "choices": [{"text", "label"}]}}
        choices = {"text": [c["text"] for c in question["choices"]],
                   "label": [c["label"] for c in question["choices"]]}
        question = question["stem"]
    labels = list(choices["label"])
    if record["answerKey"] not in labels:
        raise BadRecord("answer_not_a_choice")
    return ChoiceItem(f"Question: {question}\nAnswer:", tuple(choices["text"]), labels.index(record["answerKey"]))


def piqa_item(record: dict) -> ChoiceItem:
    return ChoiceItem(f"Question: {record['goal']}\nAnswer:", (record["sol1"], record["sol2"]), int(record["label"]))


# layout -> (the fields that identify it, the item builder)
LAYOUTS = {
    "hellaswag": ({"endings", "label"}, hellaswag_item),
    "arc": ({"question", "answerKey"}, arc_item),
    "piqa": ({"goal", "sol1", "sol2"}, piqa_item),
}


def layout_of(record: dict) -> Optional[str]:
    for name, (fields, _) in LAYOUTS.items():
        if fields <= record.keys():
            return name
    return None


def records(path: Path) -> Iterator[dict | BadRecord]:
    """The file's records, a BadRecord for each line that is not a JSON object."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield BadRecord("not_json")
                continue
            yield record if isinstance(record, dict) else BadRecord("not_an_object")


def labels_beside(path: Path) -> Optional[list[str]]:
    """PIQA's release keeps labels apart: `valid.jsonl` → `valid-labels.lst`."""
    stem = path.name.split(".")[0]
    found = path.with_name(f"{stem}-labels.lst")
    return found.read_text(encoding="utf-8").split() if found.is_file() else None


def read_choice_set(path: Path) -> ChoiceSet:
    """The questions of a multiple-choice file; its layout is the first record's."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    labels = labels_beside(path)
    try:
        return _choice_set(path, labels)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:  # a damaged gzip stream, not text
        raise ValueError(f"{path}: cannot be read ({err})") from None


def _choice_set(path: Path, labels: Optional[list[str]]) -> ChoiceSet:
    chosen: Optional[str] = None
    items, skipped = [], Counter()
    for index, record in enumerate(records(path)):
        if isinstance(record, BadRecord):
            skipped[str(record)] += 1
            continue
        if labels is not None and "label" not in record and index < len(labels):
            record = {**record, "label": labels[index]}
        chosen = chosen or layout_of(record)
        if chosen is None:
            raise ValueError(f"{path}: the first record has none of the layouts' fields "
                             f"({'; '.join(f'{n}: {sorted(f)}' for n, (f, _) in LAYOUTS.items())})")
        try:
            item = LAYOUTS[chosen][1](record)
        except BadRecord as err:
            skipped[str(err)] += 1
            continue
        except (KeyError, TypeError, AttributeError):
            skipped["missing_field"] += 1
            continue
        except ValueError:
            skipped["bad_label"] += 1
            continue
        if len(item.choices) < 2 or not 0 <= item.gold < len(item.choices):
            skipped["bad_label" if len(item.choices) >= 2 else "fewer_than_two_choices"] += 1
            continue
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no usable question" + (f" ({dict(skipped)})" if skipped else ""))
    return ChoiceSet(chosen, items, skipped)


def choice_accuracy(log_likelihoods: Sequence[float], choices: Sequence[str], gold: int) -> tuple[bool, bool]:
    """(acc, acc_norm) of one question: the gold choice has the highest log-likelihood, raw and
    divided by the choice's length in characters (ties go to the first, as numpy's argmax)."""
    scores = np.asarray(log_likelihoods, dtype=np.float64)
    lengths = np.array([float(len(choice)) for choice in choices])
    return int(np.argmax(scores)) == gold, int(np.argmax(scores / lengths)) == gold


def encode_request(model: ScoringModel, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-evaluation-harness's `_encode_pair` makes them for a
    causal model: the context's trailing spaces move to the continuation, the whole is encoded and
    the continuation is what follows the context's own ids; an empty context is the prefix id."""
    if not context:
        ids = model.encode_text([continuation])[0]
        return ([model.prefix_id], ids) if not ids or ids[0] != model.prefix_id else (ids[:1], ids[1:])
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = model.encode_prompt(context + continuation)
    context_ids = model.encode_prompt(context)
    return context_ids, whole[len(context_ids):]


def request_span(model: ScoringModel, context: str, continuation: str) -> Optional[Span]:
    """The continuation's ids scored after the context's last ids (cut from the left to the model's
    context); None when the continuation alone is longer than the model's context."""
    context_ids, continuation_ids = encode_request(model, context, continuation)
    if len(continuation_ids) > model.context:
        return None
    ids = (context_ids + continuation_ids)[-(model.context + 1):]
    return Span(np.array(ids, dtype=np.int32), len(ids) - 1 - len(continuation_ids))


@dataclass(frozen=True)
class ChoiceScore:
    layout: str
    items: int
    acc: float
    acc_norm: float
    acc_stderr: Optional[float]
    acc_norm_stderr: Optional[float]
    acc_ci95: Optional[tuple[float, float]]
    acc_norm_ci95: Optional[tuple[float, float]]
    chance: float             # the accuracy of a uniform guess, averaged over the questions
    skipped: dict[str, int]
    log_likelihoods: list[list[float]]  # per question, per choice (not written to eval.json)

    def as_json(self) -> dict:
        return {"layout": self.layout, "items": self.items, "acc": self.acc, "acc_stderr": self.acc_stderr,
                "acc_ci95": list(self.acc_ci95) if self.acc_ci95 else None, "acc_norm": self.acc_norm,
                "acc_norm_stderr": self.acc_norm_stderr,
                "acc_norm_ci95": list(self.acc_norm_ci95) if self.acc_norm_ci95 else None,
                "chance": self.chance, "skipped": self.skipped}


def score_choice_set(model: ScoringModel, choice_set: ChoiceSet, batch_size: int,
                     progress: Optional[Progress] = None) -> ChoiceScore:
    """`acc` and `acc_norm` of `model` on the set's questions, zero-shot."""
    skipped = Counter(choice_set.skipped)
    items, spans = [], []
    for item in choice_set.items:
        found = [request_span(model, item.context, TARGET_DELIMITER + choice) for choice in item.choices]
        if any(span is None for span in found):
            skipped["longer_than_context"] += 1
            continue
        items.append(item)
        spans.extend(found)
    scores = score_spans(model, spans, batch_size, progress)
    per_item, start = [], 0
    for item in items:
        per_item.append(scores[start:start + len(item.choices)].tolist())
        start += len(item.choices)
    right = [choice_accuracy(lls, item.choices, item.gold) for lls, item in zip(per_item, items)]
    acc, acc_norm = [float(r[0]) for r in right], [float(r[1]) for r in right]
    n = len(items)
    return ChoiceScore(
        layout=choice_set.layout, items=n,
        acc=sum(acc) / n if n else float("nan"), acc_norm=sum(acc_norm) / n if n else float("nan"),
        acc_stderr=mean_stderr(acc), acc_norm_stderr=mean_stderr(acc_norm),
        acc_ci95=wilson_interval(int(sum(acc)), n), acc_norm_ci95=wilson_interval(int(sum(acc_norm)), n),
        chance=float(np.mean([1 / len(item.choices) for item in items])) if n else float("nan"),
        skipped=dict(sorted(skipped.items())), log_likelihoods=per_item)
