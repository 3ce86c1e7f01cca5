"""The foundation's filters on literal texts and on real labelled sentences."""
import pytest

from tokenmill.filters.document import Document, derived_id, stable_hash
from tokenmill.filters.langid import LANGUAGE_ALIASES, LanguageFilter
from tokenmill.filters.normalize import content_hash, normalize_for_exact_match
from tokenmill.filters.sanity import MIN_WORDS_PER_CHAR, SanityFilter


@pytest.fixture(scope="module")
def english_only():
    f = LanguageFilter(["en"], 0.65)
    f.setup()
    return f


def doc(text, **kw):
    return Document("d", "s", text, **kw)


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", "ru", "zh", "ar", "hi"])
def test_langid_names_the_language_of_real_sentences(corpus, lang):
    sentences = (corpus / "lid" / "lingua_sentences_sample" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
    f = LanguageFilter(None, 0.0)
    docs = [doc(s) for s in sentences if s.strip()]
    f.filter_batch(docs)
    accuracy = sum(d.lang == lang for d in docs) / len(docs)
    assert accuracy >= 0.9, f"{lang}: {accuracy:.2f}"


# Faker's generated sentences in their own scripts, and the sample's pages in German, French and Spanish.
GENERATED = {"ru": "ru_RU", "zh": "zh_CN", "ar": "ar_AA", "el": "el_GR", "he": "he_IL", "ja": "ja_JP"}


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", *GENERATED])
def test_langid_names_the_language_of_sentences_the_clone_holds(lang, sample_texts):
    from faker import Faker

    from tokenmill.jobs.sample.build import OTHER_LANGUAGES

    if lang == "en":
        texts = [" ".join(text.split()[:40]) for text in sample_texts[:30]]
    elif lang in OTHER_LANGUAGES:
        texts = [sentence + "." for sentence in OTHER_LANGUAGES[lang].split(". ")]
    else:
        fake = Faker(GENERATED[lang])
        fake.seed_instance(0)
        texts = [" ".join(fake.sentences(3)) for _ in range(20)]
    docs = [doc(text) for text in texts]
    LanguageFilter(None, 0.0).filter_batch(docs)
    accuracy = sum(d.lang == lang for d in docs) / len(docs)
    assert accuracy >= 0.9, f"{lang}: {accuracy:.2f}"


def test_langid_keeps_wanted_language_and_names_the_reason_otherwise(english_only):
    en = doc("The committee will publish its final report on the proposed railway line next spring.")
    de = doc("Der Ausschuss wird seinen Abschlussbericht über die geplante Bahnstrecke im Frühjahr veröffentlichen.")
    assert english_only(en) is None and en.lang == "en" and en.lang_score >= 0.65
    assert english_only(de) == "unwanted_language" and de.lang == "de"


def test_langid_threshold_applies_to_any_language():
    strict = LanguageFilter(None, 0.999)
    mixed = doc("ok 42 lol")
    assert strict(mixed) == "low_confidence"
    assert LanguageFilter(None, 0.0)(doc("ok 42 lol")) is None


def test_langid_maps_wu_and_cantonese_to_chinese():
    assert LANGUAGE_ALIASES == {"wuu": "zh", "yue": "zh"}
    cantonese = doc("我哋今日去飲茶，你嚟唔嚟呀？佢話佢好忙，唔得閒同我哋一齊去。")
    LanguageFilter(["zh"], 0.0)(cantonese)
    assert cantonese.lang == "zh"


def test_langid_filter_pickles_without_its_model(english_only):
    import pickle

    clone = pickle.loads(pickle.dumps(english_only))
    assert clone._model is None
    assert clone(doc("This sentence is plainly written in the English language.")) is None


def test_sanity_minimum_length_at_and_around_100_characters():
    f = SanityFilter()
    assert f(doc("word " * 19 + "word")) == "too_short"          # 99 characters
    assert f(doc("word " * 20)) is None                          # 100
    assert f(doc("word " * 20 + "x")) is None                    # 101


def test_sanity_words_per_character_at_under_and_over_the_threshold():
    f = SanityFilter()
    under = "x" * 184 + " y" * 8     # 9 words in 200 characters: 0.045
    at = "x" * 182 + " y" * 9        # 10 words in 200 characters: 0.050
    over = "x" * 180 + " y" * 10     # 11 words in 200 characters: 0.055
    assert [len(t) for t in (under, at, over)] == [200, 200, 200]
    assert MIN_WORDS_PER_CHAR == 0.05
    assert [f(doc(t)) for t in (under, at, over)] == ["too_few_words", None, None]


def test_sanity_skips_word_rule_for_unspaced_languages():
    chinese = "我们今天讨论的是语言模型的训练数据如何清洗以及为什么这很重要。" * 4
    assert SanityFilter()(doc(chinese, lang="zh")) is None
    assert SanityFilter()(doc(chinese, lang="en")) == "too_few_words"


def test_the_chapters_printed_word_ratio_would_drop_real_prose(corpus):
    """pretraining.md drops text when words/characters < 0.3; English prose runs near 0.17,
    so the printed rule would drop Frankenstein, and ours keeps it."""
    book = (corpus / "books" / "pg_frankenstein.txt").read_text(encoding="utf-8")
    ratio = len(book.split()) / len(book)
    assert 0.12 < ratio < 0.2 < 0.3
    assert SanityFilter()(doc(book, lang="en")) is None


def test_the_chapters_printed_word_ratio_would_drop_the_samples_prose(sample_texts):
    """The same on the bundled sample's articles (Python's docstrings): prose, not lists of words."""
    articles = sample_texts[:10]
    for text in articles:
        assert len(text.split()) / len(text) < 0.3
    assert all(SanityFilter()(doc(text, lang="en")) is None for text in articles)


def test_normalisation_and_content_hash():
    assert normalize_for_exact_match("  Hello\n\tWORLD ") == "hello world"
    assert content_hash("Hello  world") == content_hash("hello\nWORLD")
    assert content_hash("hello world") != content_hash("hello world!")


def test_stable_hash_and_derived_ids_are_fixed_values():
    assert stable_hash("a", "b") != stable_hash("ab")
    assert derived_id("data/x.txt", 3) == derived_id("data/x.txt", 3) != derived_id("data/x.txt", 4)
    assert derived_id("p", 0) == "5f05083539fc068f"  # the same on every machine and Python build
