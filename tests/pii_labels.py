"""The hand-labelled PII spans of real pages (tests/fixtures/pii_labels.jsonl) and precision on them.

Each row is a span the default `pii` stage found before its context rules (tokenmill 0.x as of
issue 19) on a page of ../shared/corpus/web-bulk, judged by reading it in its page: `pii` is true
when the span is the entity it was found as (an e-mail address, a phone number, an IP address...).
The rows keep 60 characters before the span and 60 after, so the stage can be asked about each
snippet without the corpus; `page` names the page (file#line of a JSONL file, or a member of the
Readability HTML tarball) and `start`/`end` the span's place in its extracted text.
"""
from __future__ import annotations

import gzip
import json
import tarfile
from collections import Counter
from pathlib import Path

LABELS = Path(__file__).resolve().parent / "fixtures" / "pii_labels.jsonl"
READABILITY = "readability_testpages_source_html.tar.gz"


def labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


def pages(corpus: Path, names: set[str]) -> dict[str, str]:
    """The text of each named page, extracted as the labelled run extracted it."""
    from tokenmill.transforms.formats.warc import html_to_text

    texts = {}
    for path in sorted((corpus / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for i, line in enumerate(lines):
                if f"{path.name}#{i}" in names:
                    texts[f"{path.name}#{i}"] = json.loads(line)["text"]
    with tarfile.open(corpus / "web-bulk" / READABILITY) as tar:
        for member in tar.getmembers():
            if member.name in names:
                texts[member.name] = html_to_text(tar.extractfile(member).read(), None)
    return texts


def snippet_verdicts(pii, rows: list[dict]) -> list[tuple[dict, bool]]:
    """(row, whether the stage masks the labelled span when asked about its snippet alone)."""
    verdicts = []
    for row in rows:
        text = row["before"] + row["span"] + row["after"]
        start, end = len(row["before"]), len(row["before"]) + len(row["span"])
        found = any(s.entity_type == row["entity"] and s.start < end and start < s.end for s in pii.find(text))
        verdicts.append((row, found))
    return verdicts


def precision(verdicts) -> dict[str, tuple[int, int]]:
    """entity -> (spans masked that are PII, spans masked)."""
    masked, right = Counter(), Counter()
    for row, found in verdicts:
        if found:
            masked[row["entity"]] += 1
            right[row["entity"]] += row["pii"]
    return {e: (right[e], masked[e]) for e in masked}
