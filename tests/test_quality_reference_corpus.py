"""Corpus tier: the quality rules decide and measure on real pages exactly as before they were made fast.

`tests/fixtures/quality_reference_corpus.json.gz` holds, per page, a digest of the row
`tests/test_quality_reference.py` compares (reason, every signal, the text left) under the web chain
and with every bound open, as the rules computed them at commit bb3bac2: numbers only, no corpus text.
Pages: every web-bulk JSONL document, the Readability and trafilatura test pages as resiliparse
extracts them, and the pages of the WARC files in web/. Regenerate only for a deliberate rule change:
``python -m tests.test_quality_reference_corpus``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

from tests.test_quality_reference import configurations, measure
from tokenmill.filters.document import Document
from tokenmill.transforms.formats import READERS, ReadOptions
from tokenmill.transforms.formats.warc import html_to_text

FIXTURE = Path(__file__).parent / "fixtures" / "quality_reference_corpus.json.gz"
HTML_PAGES = ("readability_testpages_source_html.tar.gz", "trafilatura_testpages_html_part-shared.tar.gz")


def real_pages(corpus: Path) -> list[tuple[str, str]]:
    """(name, text) of every page, in a fixed order."""
    found = []
    for path in sorted((corpus / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            found += [(f"{path.name}:{i}", json.loads(line)["text"]) for i, line in enumerate(lines) if line.strip()]
    for name in HTML_PAGES:
        with tarfile.open(corpus / "web-bulk" / name) as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
            found += [(f"{name}:{m.name}", html_to_text(tar.extractfile(m).read(), None)) for m in members]
    for path in sorted((corpus / "web").glob("*.warc.gz")):
        found += [(f"{path.name}:{d.id}", d.text) for d in READERS["warc"](str(path), "web", ReadOptions())
                  if isinstance(d, Document)]
    return found


def page_digests(pages: list[tuple[str, str]]) -> dict[str, str]:
    """name -> a digest of the rows of the web chain and of every rule set with every bound open."""
    chains = configurations()
    digests = {}
    for name, text in pages:
        rows = [measure(chains[config], text, "en") for config in ("web", "open")]
        digests[name] = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:12]
    return digests


def test_real_pages_get_the_reference_decisions_and_signals(corpus, quality_scan):
    reference = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    found = page_digests(real_pages(corpus))
    assert found.keys() == reference.keys(), "the pages changed, not the rules"
    differ = [name for name in found if found[name] != reference[name]]
    assert not differ, f"{len(differ)} of {len(found)} pages differ, e.g. {differ[:5]}"


if __name__ == "__main__":
    from tests.conftest import CORPUS

    found = json.dumps(page_digests(real_pages(CORPUS)), indent=0, sort_keys=True) + "\n"
    FIXTURE.write_bytes(gzip.compress(found.encode(), mtime=0))
    print(f"wrote {FIXTURE}")
