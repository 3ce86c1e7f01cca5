"""The toxicity stage on labelled comments written here: insults built from the bundled English
LDNOOBW list, and clean sentences from the bundled sample (tests/test_toxicity.py measures the same
on the labelled Jigsaw comments, in the corpus tier)."""
import pickle
import re

import pytest

from test_toxicity import build, doc
from tokenmill.filters.badwords import BadWordMatcher, load_badwords
from tokenmill.filters.toxicity import ToxicityFilter

INSULTS = ("you are a {0} and everyone here knows it", "what a {0}, stop posting this {1}",
           "shut up you {0}, nobody wants your {1} opinions", "this {0} thread is full of {1} people")


@pytest.fixture(scope="module")
def comments(sample_texts) -> dict[str, list[str]]:
    """40 toxic comments ("1") and 120 clean ones ("0"), the same every run."""
    words = sorted(w for w in load_badwords("en") if " " not in w and w.isalpha())
    toxic = [INSULTS[i % len(INSULTS)].format(words[(7 * i) % len(words)], words[(11 * i + 3) % len(words)])
             for i in range(40)]
    sentences = [s.strip() for text in sample_texts for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))]
    clean = [s for s in sentences if 40 < len(s) < 200 and not BadWordMatcher.for_language("en").count(s)][:120]
    assert len(clean) == 120
    return {"1": toxic, "0": clean}


def train_classifier(comments, path):
    import fasttext

    lines = [f"__label__{'toxic' if label == '1' else 'non-toxic'} {text}\n"
             for label, texts in sorted(comments.items()) for text in texts]
    (path.parent / "train.txt").write_text("".join(lines), encoding="utf-8")
    model = fasttext.train_supervised(input=str(path.parent / "train.txt"), epoch=50, lr=0.5, wordNgrams=2,
                                      dim=16, seed=1, thread=1, verbose=0)
    model.save_model(str(path))
    return path


def test_ratio_mode_drops_the_insults_and_keeps_the_prose(comments):
    verdicts = {label: [ToxicityFilter()(doc(text)) for text in texts] for label, texts in comments.items()}
    assert sum(v == "bad_word_ratio" for v in verdicts["1"]) >= 36
    assert all(v is None for v in verdicts["0"])


def test_toxic_comments_hit_the_en_list_and_clean_ones_do_not(comments):
    en = BadWordMatcher.for_language("en")
    assert all(en.count(text) >= 1 for text in comments["1"])
    assert not any(en.count(text) for text in comments["0"])


def test_a_fasttext_classifier_given_by_path_scores_and_drops(comments, tmp_path):
    model = train_classifier(comments, tmp_path / "toxic.bin")
    f = build({"mode": "off", "classifier_model": str(model), "max_classifier_score": 0.5})
    assert f.signal_types()["toxicity_score"] == "float"
    f = pickle.loads(pickle.dumps(f))  # what a worker receives
    scores = {label: [] for label in comments}
    for label, texts in comments.items():
        for text in texts:
            d = doc(text)
            verdict = f(d)
            assert 0.0 <= d.signals["toxicity_score"] <= 1.0
            assert verdict == ("classifier" if d.signals["toxicity_score"] > 0.5 else None)
            scores[label].append(d.signals["toxicity_score"])
    assert sum(scores["1"]) / len(scores["1"]) > 0.5 > sum(scores["0"]) / len(scores["0"])


def test_a_classifier_label_the_model_lacks_is_a_clear_error(comments, tmp_path):
    model = train_classifier(comments, tmp_path / "toxic.bin")
    f = build({"classifier_model": str(model), "classifier_label": "__label__nsfw"})
    with pytest.raises(ValueError, match="__label__nsfw.*not a label"):
        f.setup()


def test_alt_profanity_check_scores_the_comments(comments):
    f = pickle.loads(pickle.dumps(build({"mode": "off", "profanity_check": True})))
    hits = {label: 0 for label in comments}
    for label, texts in comments.items():
        for text in texts:
            d = doc(text)
            verdict = f(d)
            assert verdict == ("profanity" if d.signals["profanity_score"] > 0.5 else None)
            hits[label] += verdict == "profanity"
    # its model knows the common insults, not every rare word of the list
    assert hits["1"] >= 10 and hits["1"] / len(comments["1"]) > 5 * hits["0"] / len(comments["0"])
