"""The toxicity stage: word-list score and C4's rule on real comments and pages, a fastText classifier
trained here on the labelled Jigsaw comments and plugged in by path, counted rejections."""
import csv
import pickle

import pytest

from tokenmill.filters.document import Document
from tokenmill.filters.toxicity import ToxicityFilter
from tokenmill.pipeline.config import SourceConfig
from tokenmill.pipeline.schema import ConfigError, from_mapping
from tokenmill.pipeline.stages import STAGES

MEDICAL = ("The clinic answers questions about sex education, contraception and vaginal health. "
           "Our nurses explain anatomy in plain words, from puberty to menopause, and keep every "
           "conversation confidential. Appointments are free for students under twenty-five. The centre "
           "is open on weekdays from nine to five and on Saturday mornings; bring your card, a list of "
           "medicines you take, and any questions you have written down. Interpreters can be booked in "
           "advance for most languages, and the building has step-free access from the car park.")


def jigsaw(corpus):
    with open(corpus / "toxicity" / "jigsaw_test_examples_ibm-max.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def doc(text, lang="en"):
    return Document("d", "s", text, lang=lang)


def build(settings, fmt="jsonl"):
    stage = STAGES["toxicity"]
    return stage.build(from_mapping(stage.settings, settings, "stages.toxicity"), SourceConfig(format=fmt, paths=["x"]))


def test_ratio_mode_keeps_a_page_that_names_a_listed_word_once_where_c4_drops_it():
    page = doc(MEDICAL)
    assert ToxicityFilter(mode="ratio")(page) is None
    assert page.signals["toxicity_words"] == 1 and 0 < page.signals["toxicity_word_ratio"] < 0.05
    assert ToxicityFilter(mode="any")(doc(MEDICAL)) == "bad_words"
    measured = doc(MEDICAL)
    assert ToxicityFilter(mode="off")(measured) is None and measured.signals["toxicity_words"] == 1


def test_ratio_mode_on_the_labelled_jigsaw_comments(corpus):
    rows = jigsaw(corpus)
    verdicts = {label: [ToxicityFilter()(doc(r["comment_text"])) for r in rows if r["toxic"] == label]
                for label in "01"}
    dropped_toxic = sum(v == "bad_word_ratio" for v in verdicts["1"])
    dropped_clean = sum(v == "bad_word_ratio" for v in verdicts["0"])
    assert dropped_toxic >= 6 and dropped_toxic / 13 > 3 * dropped_clean / 88


def test_languages_without_spaces_score_characters_and_unlisted_languages_are_not_scored():
    zh = doc("他是个下贱的人" * 3, lang="zh")
    assert ToxicityFilter()(zh) == "bad_word_ratio"
    assert zh.signals["toxicity_words"] == 3 and zh.signals["toxicity_word_ratio"] == pytest.approx(2 / 7, abs=1e-6)
    unlisted = doc("some text in a language without a list", lang="xx")
    assert ToxicityFilter()(unlisted) is None
    assert unlisted.signals == {"toxicity_words": None, "toxicity_word_ratio": None}
    german = doc("Das ist ein Arschloch.", lang="de")
    assert ToxicityFilter()(german) == "bad_word_ratio" and german.signals["toxicity_words"] == 1


def test_huge_and_binary_documents_are_counted_not_scored():
    assert ToxicityFilter(max_chars=100)(doc("a" * 101)) == "oversized"
    assert ToxicityFilter()(doc("PK\x03\x04\x00\x00" + "x" * 50)) == "binary"


def test_lists_from_another_directory(tmp_path):
    (tmp_path / "en").write_text("frobnicate\n", encoding="utf-8")
    f = build({"lists": str(tmp_path), "mode": "any"})
    assert f(doc("please frobnicate the widget")) == "bad_words"
    assert f(doc("fuck")) is None


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="mode"):
        build({"mode": "strict"})


def train_jigsaw_classifier(corpus, path):
    import fasttext

    lines = []
    for row in jigsaw(corpus):
        label = "__label__toxic" if row["toxic"] == "1" else "__label__non-toxic"
        lines.append(f"{label} {' '.join(row['comment_text'].split())}\n")
    (path.parent / "train.txt").write_text("".join(lines), encoding="utf-8")
    model = fasttext.train_supervised(input=str(path.parent / "train.txt"), epoch=50, lr=0.5, wordNgrams=2,
                                      dim=16, seed=1, thread=1, verbose=0)
    model.save_model(str(path))
    return path


def test_a_fasttext_classifier_given_by_path_scores_and_drops(corpus, tmp_path):
    model = train_jigsaw_classifier(corpus, tmp_path / "jigsaw.bin")
    f = build({"mode": "off", "classifier_model": str(model), "max_classifier_score": 0.5})
    assert f.signal_types()["toxicity_score"] == "float"
    f = pickle.loads(pickle.dumps(f))  # what a worker receives
    rows = jigsaw(corpus)
    scores = {label: [] for label in "01"}
    for row in rows:
        d = doc(row["comment_text"])
        verdict = f(d)
        assert 0.0 <= d.signals["toxicity_score"] <= 1.0
        assert verdict == ("classifier" if d.signals["toxicity_score"] > 0.5 else None)
        scores[row["toxic"]].append(d.signals["toxicity_score"])
    assert sum(scores["1"]) / 13 > 0.5 > sum(scores["0"]) / 88


def test_a_classifier_label_the_model_lacks_is_a_clear_error(corpus, tmp_path):
    model = train_jigsaw_classifier(corpus, tmp_path / "jigsaw.bin")
    f = build({"classifier_model": str(model), "classifier_label": "__label__nsfw"})
    with pytest.raises(ValueError, match="__label__nsfw.*not a label"):
        f.setup()


def test_alt_profanity_check_scores_the_jigsaw_comments(corpus):
    f = pickle.loads(pickle.dumps(build({"mode": "off", "profanity_check": True})))
    hits = {label: 0 for label in "01"}
    for row in jigsaw(corpus):
        d = doc(row["comment_text"])
        verdict = f(d)
        assert verdict == ("profanity" if d.signals["profanity_score"] > 0.5 else None)
        hits[row["toxic"]] += verdict == "profanity"
    assert hits == {"1": 10, "0": 3}
