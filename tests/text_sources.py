"""Texts of four kinds for the tokenizer and packing tests: long prose (`books`), articles (`wiki`),
web pages (`web`) and several scripts (`multilingual`).

`SampleTexts` makes them from what the clone and its packages hold, for the default tier: articles
written from the standard library's docstrings as the bundled sample's are (jobs/sample/build.py), the
sample's own articles and web pages, and Faker's generated text in eight scripts. `CorpusTexts` cuts
them from the real texts of ../shared/corpus (tests/pack_corpus.py), for the corpus tier.
"""
from __future__ import annotations

import gzip
import json
import warnings
from functools import cache
from pathlib import Path

from tests import pack_corpus
from tokenmill.filters.document import Document
from tokenmill.jobs.sample.build import WEB_MODULES, module_text
from tokenmill.transforms.formats import READERS, ReadOptions

SAMPLE = Path(__file__).resolve().parents[1] / "jobs" / "sample"
# Faker locales whose generated sentences are in their own script (Cyrillic, Arabic, Han, Kana, Greek,
# Hebrew, Thai, Latin with diacritics).
SCRIPTS = ("ru_RU", "ar_AA", "zh_CN", "ja_JP", "el_GR", "he_IL", "th_TH", "de_DE")


class SampleTexts:
    def books(self, limit: int) -> list[str]:
        return pack_corpus._take(_module_articles(), limit)

    def wiki(self, limit: int) -> list[str]:
        with gzip.open(SAMPLE / "docs.jsonl.gz", "rt", encoding="utf-8") as lines:
            return pack_corpus._take([json.loads(line)["text"] for line in lines], limit)

    def web(self, limit: int) -> list[str]:
        """The sample's pages, cut at blank lines into passages of about 4,000 characters (the size
        of an OpenWebText document; a whole API page runs to 100,000)."""
        pages = READERS["warc"](str(SAMPLE / "web.warc.gz"), "web", ReadOptions())
        passages = []
        for page in (page for page in pages if isinstance(page, Document)):
            current = ""
            for paragraph in page.text.split("\n\n"):
                current += paragraph + "\n\n"
                if len(current) > 4000:
                    passages.append(current)
                    current = ""
            passages += [current] if current.strip() else []
        return pack_corpus._take(passages, limit)

    def multilingual(self) -> list[str]:
        from faker import Faker

        docs = []
        for locale in SCRIPTS:
            fake = Faker(locale)
            fake.seed_instance(0)
            docs += [" ".join(fake.sentences(8)) for _ in range(10)]
        return docs


@cache
def _module_articles() -> list[str]:
    with warnings.catch_warnings():  # the docstrings of deprecated names warn when read
        warnings.simplefilter("ignore", DeprecationWarning)
        return [module_text(name) for name in WEB_MODULES]


class CorpusTexts:
    def __init__(self, corpus: Path):
        self.corpus = corpus

    def books(self, limit: int) -> list[str]:
        return pack_corpus.books(self.corpus, limit)

    def wiki(self, limit: int) -> list[str]:
        return pack_corpus.wiki(self.corpus, limit)

    def web(self, limit: int) -> list[str]:
        return pack_corpus.web(self.corpus, limit)

    def multilingual(self) -> list[str]:
        return pack_corpus.multilingual(self.corpus)
