"""The clean-text, decontaminate and url stages on planted cases, and in a curate run."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokenmill.filters.clean_text import CleanText, changed_span, clean_text
from tokenmill.filters.decontaminate import Decontaminate, ngram_words
from tokenmill.filters.document import Document
from tokenmill.filters.url_filter import UrlFilter
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig

QUESTION = ("Which of the following best describes the primary function of mitochondria in eukaryotic cells "
            "during aerobic respiration and energy production?")
UNRELATED = ("The council met on Tuesday to discuss the new bridge. Residents said the primary concern was traffic "
             "during the morning, and the mayor promised a study of the options before any vote. ") * 3


def test_clean_text_makes_unicode_spaces_plain_and_repairs_mojibake():
    text, spaces, repaired = clean_text("It\u00a0costs 5\u202f€\u3000today. The Mona Lisa doesnÃ¢â‚¬â„¢t smile.\ufeff")
    assert text == "It costs 5 € today. The Mona Lisa doesn’t smile."
    assert spaces == 3 and repaired > 0  # ftfy itself drops the byte-order mark


def test_clean_text_leaves_entities_quotes_and_ascii_alone():
    for kept in ("“Quoted” – café &amp; &lt;tag&gt; ﬁne ＡＢ", "plain ASCII text"):
        assert clean_text(kept) == (kept, 0, 0)
    doc = Document("a", "s", "a\u00a0b")
    assert CleanText()(doc) is None and doc.text == "a b" and doc.signals["unicode_spaces"] == 1


def test_the_changed_span_is_from_the_first_to_the_last_differing_character():
    import random

    def by_definition(before, after):  # character by character
        if before == after:
            return 0
        prefix = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), min(len(before), len(after)))
        rest = zip(reversed(before[prefix:]), reversed(after[prefix:]))
        suffix = next((i for i, (a, b) in enumerate(rest) if a != b), min(len(before), len(after)) - prefix)
        return max(1, len(before) - prefix - suffix)

    rng = random.Random(3)
    for _ in range(3000):
        before = "".join(rng.choice("aab") for _ in range(rng.randint(0, 30)))
        after = list(before)
        for _ in range(rng.randint(0, 3)):  # replace, insert or delete a character
            at = rng.randint(0, len(after))
            after[at:at + rng.randint(0, 1)] = rng.choice(["", "a", "c", "cc"])
        after = "".join(after)
        assert changed_span(before, after) == by_definition(before, after), (before, after)


@pytest.fixture
def eval_sets(tmp_path):
    (tmp_path / "mmlu.jsonl").write_text(json.dumps({"question": QUESTION, "choices": ["ATP synthesis", "DNA"],
                                                     "answer": 0}) + "\n")
    pq.write_table(pa.table({"question": ["Natalia sold clips to 48 of her friends in April and then half as many in May"],
                             "answer": ["72"]}), tmp_path / "gsm8k.parquet")
    (tmp_path / "lambada.txt").write_text("the last word of this passage must be predicted by the model\n")
    return {"mmlu": str(tmp_path / "mmlu.jsonl"), "gsm8k": str(tmp_path / "gsm8k.parquet"),
            "lambada": str(tmp_path / "lambada.txt")}


def test_decontaminate_finds_planted_ngrams_of_every_set_format(eval_sets):
    decontaminate = Decontaminate(eval_sets)
    planted = "Quiz night! " + QUESTION.upper().replace(",", " ,") + " Answers below."
    assert decontaminate.match(planted) == ("mmlu", " ".join(ngram_words(QUESTION)[:13]))
    # A 16-word item indexes its 13-grams; a 12-word item (8 to 12 words) is indexed whole.
    assert decontaminate.match("so natalia sold clips to 48 of her friends in april and then half")[0] == "gsm8k"
    assert decontaminate.match("The last word of this passage, must be predicted by the model!")[0] == "lambada"
    assert decontaminate.match(UNRELATED) is None
    assert decontaminate.match("which of the following best describes the primary function of a bridge") is None
    # Short strings (the answer "72", the choices) never match on their own.
    assert decontaminate.match("ATP synthesis DNA 72") is None


def test_decontaminate_drops_or_flags_with_the_set_and_ngram(eval_sets):
    doc = Document("d", "s", QUESTION)
    assert Decontaminate(eval_sets)(doc) == "mmlu"
    assert doc.signals["contamination_set"] == "mmlu" and doc.signals["contamination_ngram"].startswith("which of")
    flagged = Document("d", "s", QUESTION)
    assert Decontaminate(eval_sets, flag_only=True)(flagged) is None
    assert flagged.signals["contamination_set"] == "mmlu"


@pytest.fixture
def blocklist(tmp_path):
    adult = tmp_path / "adult"
    adult.mkdir()
    (adult / "domains").write_text("# UT1\nbadsite.com\nexample.org\n")
    (adult / "urls").write_text("goodhost.net/private\n")
    return {"adult": str(adult)}


def test_url_filter_matches_domains_subdomains_urls_and_words(blocklist):
    url_filter = UrlFilter(blocklist, banned_words=["casino"], banned_subwords=["porn"])
    verdicts = {url: url_filter(Document("x", "s", "t", url)) for url in (
        "https://badsite.com/a", "http://www.cdn.badsite.com:8080/b?c=1", "https://notbadsite.com/",
        "https://goodhost.net/private/page.html", "https://goodhost.net/privateer", "https://goodhost.net/",
        "https://x.com/online-casino/today", "https://x.com/casinoroyale", "https://freepornvids.net/", None)}
    assert verdicts == {
        "https://badsite.com/a": "adult", "http://www.cdn.badsite.com:8080/b?c=1": "adult",
        "https://notbadsite.com/": None, "https://goodhost.net/private/page.html": "adult",
        "https://goodhost.net/privateer": None, "https://goodhost.net/": None,
        "https://x.com/online-casino/today": "banned_word", "https://x.com/casinoroyale": None,
        "https://freepornvids.net/": "banned_subword", None: None}


def test_curate_with_the_new_stages(tmp_path, eval_sets, blocklist):
    records = [{"id": "clean", "text": UNRELATED, "url": "https://news.example.com/bridge"},
               {"id": "nbsp", "text": UNRELATED.replace(" ", "\u00a0", 5), "url": "https://news.example.com/2"},
               {"id": "leak", "text": UNRELATED + QUESTION, "url": "https://news.example.com/3"},
               {"id": "blocked", "text": UNRELATED + " blocked", "url": "https://badsite.com/x"}]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "docs.jsonl")])},
                    stages={"decontaminate": {"sets": eval_sets}, "url": {"lists": blocklist}})
    config.curate.keep_rejected = True
    ledger = curate(config, str(tmp_path / "out"), ["clean-text", "url", "decontaminate"])
    assert ledger["kept"]["web"] == 2
    assert ledger["removed"]["web"] == {"url/adult": 1, "decontaminate/mmlu": 1}
    kept = pq.read_table(tmp_path / "out" / "curated").to_pydict()
    assert "\u00a0" not in "".join(kept["text"]) and sorted(kept["unicode_spaces"]) == [0, 5]
    rejected = pq.read_table(tmp_path / "out" / "rejected").to_pydict()
    row = rejected["id"].index("leak")
    assert rejected["contamination_set"][row] == "mmlu"
    assert rejected["contamination_ngram"][row].startswith("which of the following")


def test_missing_eval_set_is_a_config_error(tmp_path):
    (tmp_path / "docs.jsonl").write_text(json.dumps({"text": UNRELATED}) + "\n")
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "docs.jsonl")])},
                    stages={"decontaminate": {"sets": {"mmlu": str(tmp_path / "none.jsonl")}}})
    with pytest.raises(ValueError, match="decontaminate.sets.mmlu: .* is not a file"):
        curate(config, str(tmp_path / "out"), ["decontaminate"])


def test_an_eval_set_that_is_not_jsonl_is_a_config_error(tmp_path):
    (tmp_path / "docs.jsonl").write_text(json.dumps({"text": UNRELATED}) + "\n")
    (tmp_path / "set.jsonl").write_text("this is not JSON\n")
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "docs.jsonl")])},
                    stages={"decontaminate": {"sets": {"mmlu": str(tmp_path / "set.jsonl")}}})
    with pytest.raises(ValueError, match=r"decontaminate.sets.mmlu: .*set.jsonl:1: not JSON"):
        curate(config, str(tmp_path / "out"), ["decontaminate"])


PAGE = (b"<html><head><title>t</title></head><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
        b"<article><h1>The mill</h1><p>The river carried the boat past the old mill while the children watched "
        b"from the bridge, and their teacher explained how water once turned the great wheel.</p>"
        b"<p>It ground the grain for the whole village for three hundred years, until the railway came.</p>"
        b"</article><footer>Copyright 2024 Example Ltd. All rights reserved.</footer></body></html>")


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_both_extractors_keep_the_article_and_drop_the_menu(extractor):
    if extractor == "trafilatura":
        pytest.importorskip("trafilatura")
    from tokenmill.filters.extract.html import html_to_text

    text = html_to_text(PAGE, "utf-8", extractor)
    assert "ground the grain for the whole village" in text and "About" not in text


def test_an_unknown_extractor_is_named():
    from tokenmill.filters.extract.html import html_to_text

    with pytest.raises(ValueError, match="'boilerpipe' is not one of resiliparse, trafilatura"):
        html_to_text(PAGE, "utf-8", "boilerpipe")


def test_an_unknown_extractor_is_a_config_error_before_any_file_is_read(tmp_path):
    from tokenmill.pipeline.config import load_config
    from tokenmill.pipeline.schema import ConfigError

    (tmp_path / "run.yaml").write_text("sources:\n  web: {format: warc, paths: [a.warc.gz], options: {extractor: lxml}}\n")
    with pytest.raises(ConfigError, match=r"sources.web.options.extractor: 'lxml' is not one of resiliparse, trafilatura"):
        load_config(str(tmp_path / "run.yaml"))
