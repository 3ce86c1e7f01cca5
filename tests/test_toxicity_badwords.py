"""The LDNOOBW lists as shipped, and the one-pass matcher over them, on the real lists and comments."""
import csv
import pickle

import pytest

from tokenmill.filters.badwords import BUNDLED_DIRECTORY, BadWordMatcher, list_languages, load_badwords


def test_bundled_lists_hold_28_languages_with_their_attribution():
    assert len(list_languages()) == 28
    for lang in list_languages():
        assert load_badwords(lang), lang
    assert "CC BY 4.0" in (BUNDLED_DIRECTORY / "ATTRIBUTION.md").read_text()


def test_bundled_lists_are_the_corpus_lists_unchanged(corpus):
    source = corpus / "toxicity" / "ldnoobw"
    assert list_languages() == list_languages(source)
    for lang in list_languages():
        assert (BUNDLED_DIRECTORY / lang).read_bytes() == (source / lang).read_bytes()


def test_lists_load_lower_cased_from_another_directory(tmp_path):
    (tmp_path / "xx").write_text("Foo\n\n  bar baz \nFOO\n", encoding="utf-8")
    assert load_badwords("xx", tmp_path) == {"foo", "bar baz"}
    assert list_languages(tmp_path) == ["xx"]
    with pytest.raises(FileNotFoundError, match="no bad-word list for language 'yy'"):
        load_badwords("yy", tmp_path)


def test_lid_code_for_tagalog_finds_the_filipino_list():
    assert load_badwords("tl") == load_badwords("fil")


def test_whole_words_only_in_spaced_languages():
    en = BadWordMatcher.for_language("en")
    assert en.count("a class of assassins passed the assessment") == 0
    text = "What an ASS. (ass) ass-kisser"
    assert [(m.start, m.end, m.word) for m in en.find(text)] == [(8, 11, "ass"), (14, 17, "ass"), (19, 22, "ass")]


def test_substrings_count_in_languages_written_without_spaces():
    zh = BadWordMatcher.for_language("zh")
    assert not zh.whole_words
    text = "他是个下贱的人"
    assert [(m.start, m.end, text[m.start:m.end]) for m in zh.find(text)] == [(3, 5, "下贱")]
    assert BadWordMatcher.for_language("ja").count("これはsm女王です") == 1


def test_combining_marks_are_part_of_the_word():
    # A Thai-script or Devanagari entry followed by a vowel sign is a different, longer word.
    matcher = BadWordMatcher(frozenset({"कुत"}), whole_words=True)
    assert matcher.count("कुत्ता") == 0
    assert matcher.count("यह कुत है") == 1


def test_overlapping_entries_count_once_leftmost_longest():
    en = BadWordMatcher.for_language("en")
    assert {"ball gag"} <= load_badwords("en")
    assert [m.word for m in en.find("a ball gag and 2 girls 1 cup")] == ["ball gag", "2 girls 1 cup"]
    matcher = BadWordMatcher(frozenset({"ab", "abc", "bcd"}), whole_words=False)
    assert [m.word for m in matcher.find("abcd")] == ["abc"]


def test_offsets_point_into_the_original_text_when_lower_casing_changes_length():
    matcher = BadWordMatcher(frozenset({"ass"}))
    text = "İİ ASS"  # "İ".lower() is two characters
    [match] = matcher.find(text)
    assert text[match.start:match.end] == "ASS"


def test_matcher_pickles_small_and_works_after():
    en = BadWordMatcher.for_language("en")
    en.count("warm up the automaton")
    clone = pickle.loads(pickle.dumps(en))
    assert clone._automaton is None and clone.count("you ass") == 1


def test_toxic_jigsaw_comments_hit_the_en_list_more_often(corpus):
    with open(corpus / "toxicity" / "jigsaw_test_examples_ibm-max.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    en = BadWordMatcher.for_language("en")
    hit = {label: [en.count(r["comment_text"]) > 0 for r in rows if r["toxic"] == label] for label in "01"}
    assert len(hit["1"]) == 13
    assert sum(hit["1"]) / len(hit["1"]) > 0.5 > 5 * sum(hit["0"]) / len(hit["0"])
