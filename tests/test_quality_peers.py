"""The page-cleaning behaviour the peers' own test suites pin down, restated as tokenmill cases:
the C4 cleaning cases of TFDS's `c4_utils_test.py` (the code that built C4) and the Gopher, C4 and
FineWeb cases of DataTrove's filter tests. Texts are our own; the behaviour each case asks for is
theirs. Where a peer names a reason, the tokenmill reason that corresponds to it is asserted."""
import pytest

from tokenmill.filters.document import Document
from tokenmill.filters.quality import C4, FineWeb, GopherQuality, GopherRepetition, QualityFilter


def run(rules, text, lang="en"):
    doc = Document("d", "s", text, lang=lang)
    return QualityFilter([rules])(doc), doc


# C4, as TFDS's c4_utils tests pin the cleaning of one page.
MIXED_PAGE = """This sentence has plenty of words and ends well, Ms. Lee!
Politics | All Topics | Archive | Newsletter Signup
"Free to read. Written by people. Checked by editors."
Newsletter™/ Arts and Culture and Science...
Not enough words.
Please enable javascript in your browser to read this page.
Your browser has JavaScript turned off, so this page cannot load.
Our cook Sam has a cookie policy: bake them daily.
Maria keeps a privacy policy: never read other people's mail.
Read our terms of use before you go!
"""


def test_c4_keeps_punctuated_long_lines_and_drops_menus_ellipses_short_lines_scripts_and_notices():
    reason, doc = run(C4(), MIXED_PAGE)
    assert reason is None
    assert doc.text == ('This sentence has plenty of words and ends well, Ms. Lee!\n'
                        '"Free to read. Written by people. Checked by editors."')
    assert doc.signals["c4_lines_removed"] == 8


def test_c4_counts_sentences_not_dots():
    text = "Here is the first line of the page.\nIt reads as if it had three sentences...yet it only has one."
    reason, doc = run(C4(), text)
    assert reason == "c4_too_few_sentences"
    assert doc.text == text  # both lines were kept; the page has two sentences


def test_c4_drops_a_page_with_a_curly_bracket_on_a_kept_line():
    text = ("Every page begins with a little bit of prose.\nSo far nothing looks wrong, these are all sentences.\n"
            "Then, without any warning, a block of code appears below here.\nfunction go(x) { y = x * 2; }.")
    assert run(C4(), text)[0] == "c4_curly_bracket"


def test_c4_drops_placeholder_latin():
    text = "\n".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
                      "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi.",
                      "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum."])
    assert run(C4(), text)[0] == "c4_lorem_ipsum"


def test_c4_removes_citation_markers_before_judging_a_line():
    text = ("The page opens with a sentence.\nThis line has no closing mark at all\n"
            "Several of the following lines cite sources.[12]\n"
            "Some ask for a source[citation needed]. Some offer an edit link.[edit]\n")
    reason, doc = run(C4(), text)
    assert reason is None
    assert doc.text == ("The page opens with a sentence.\nSeveral of the following lines cite sources.\n"
                        "Some ask for a source. Some offer an edit link.")


def test_c4_drops_lines_that_mention_a_policy_in_any_case():
    text = ("The page has some prose in it. That much is fine!\nThen it adds a few lines about its rules.\n"
            "Please read the Terms of Use first.\nThis line ought to survive intact.\n"
            "Here we describe our privacy policy in brief.\nNow a word about the Cookie Policy.\n")
    reason, doc = run(C4(), text)
    assert reason is None
    assert doc.text.split("\n") == ["The page has some prose in it. That much is fine!",
                                    "Then it adds a few lines about its rules.", "This line ought to survive intact."]


PADDING = ("A page begins with some ordinary prose.\nAll is well so far, since these are full sentences.\n"
           "And then, out of nowhere, comes a rude word... or does it?\n")


@pytest.mark.parametrize("last_line, lang, dropped", [
    ("She asked for assistance with the brass cutlass.", "en", False),   # the word inside longer words
    ("He put the saddle on his ass before the long trip.", "en", True),
    ("Ass is the name of a small animal like a horse.", "en", True),     # any case
    ('A donkey is also called an "ass" by some.', "en", True),          # between quotes
    ("Ass no es una mala palabra en castellano.", "es", False),          # each language its own list
    ("El culo es una palabra del otro idioma.", "es", True),
    ("Ass und culo sind keine Schimpfwörter im Deutschen hier.", "de", False),
])
def test_c4_bad_words_option_reads_the_list_of_the_page_language(last_line, lang, dropped):
    reason, _ = run(C4(bad_words=True), PADDING + last_line, lang=lang)
    assert (reason == "c4_bad_words") is dropped


def test_c4_drops_a_line_holding_a_word_over_a_thousand_characters():
    line = "This otherwise fine line ends with a very long token " + "x" * 1001 + "."
    reason, doc = run(C4(min_sentences=0), "This line is a perfectly ordinary sentence.\n" + line)
    assert doc.text == "This line is a perfectly ordinary sentence."
    assert run(C4(min_sentences=0), line.replace("x" * 1001, "x" * 999))[1].text != ""  # 999 letters and the full stop


def test_c4_defaults_are_the_code_that_built_c4():
    assert (C4().min_words_per_line, C4().min_sentences, C4().bad_words) == (5, 3, False)


# Gopher repetition, as DataTrove's tests pin it (paragraphs are judged before lines).
TALE = ("It would have been better had this never happened in my day, said the old man. So would I, said his "
        "friend, and so would everyone who lives through such days. Yet it is not for them to choose. All that "
        "we can choose is what to make of the time that we are given.")


@pytest.mark.parametrize("text, reason", [
    ("You are my brother.\n" * 4, "gopher_duplicate_lines"),
    ("You are my brother.\n\n" * 4, "gopher_duplicate_paragraphs"),
    ("I am tree.\n\nYou are a painter.\n\nWe are the sailors.\n\n" + f"{'y' * 30}.\n\n" * 2,
     "gopher_duplicate_paragraph_chars"),
    ("I am tree.\nYou are a painter.\nWe are the sailors.\n" + f"{'y' * 40}.\n" * 2, "gopher_duplicate_line_chars"),
    ("We are Anna, We are Anna, We are Anna", "gopher_top_2gram"),
    ("I am Clara, you are Simon. I am Clara. I am Clara you are Simon", "gopher_top_3gram"),
    ("We are a lone walker " * 4 + TALE, "gopher_duplicated_5gram"),
])
def test_gopher_repetition_over_words_not_punctuation(text, reason):
    assert run(GopherRepetition(), text)[0] == reason


def test_an_empty_document_is_judged_without_dividing_by_zero():
    assert run(GopherRepetition(), "")[0] is None  # nothing repeats in it; the word count drops it
    assert run(GopherQuality(), "")[0] == "gopher_word_count"
    assert run(GopherQuality(min_words=0), "   \n  \n")[0] == "gopher_word_count"


# Gopher quality, as DataTrove's tests pin it.
@pytest.mark.parametrize("text, reason", [
    ("Far too short...", "gopher_word_count"),
    ("I am " * 20, "gopher_mean_word_length"),
    ("interconnection " * 20, "gopher_mean_word_length"),
    ("# heading " * 20, "gopher_hash_ratio"),
    ("... heading " * 20, "gopher_ellipsis_ratio"),
    ("the ./!*?<><> pear <?////> melon  ++ interconnection !<>??? have" * 20, "gopher_alpha_words"),
    (TALE, None),
])
def test_gopher_quality(text, reason):
    assert run(GopherQuality(min_words=10, max_words=1000), text)[0] == reason


def test_gopher_stop_words_are_counted_once_each():
    text = " ".join(["the"] * 30 + ["river"] * 30)
    assert run(GopherQuality(min_words=10), text)[0] == "gopher_stop_words"
    assert run(GopherQuality(min_words=10), text + " and")[0] is None


# C4 and FineWeb, as DataTrove's tests pin them.
WELL_WRITTEN = ("This is a carefully written paragraph with several sentences.\n"
                "The text goes on with more useful facts about the topic.\n"
                "Another important point is made clearly in this line.\n"
                "We can tell that this document holds good content.\n"
                "In the end, the conclusion ties the whole thing together.\n"
                "One more sentence makes sure that the threshold is met.")


def test_c4_keeps_well_written_text_and_drops_the_rest():
    assert run(C4(), WELL_WRITTEN)[0] is None
    assert run(C4(), WELL_WRITTEN.replace("several sentences", "lorem ipsum dolor sit amet"))[0] == "c4_lorem_ipsum"
    assert run(C4(), WELL_WRITTEN.replace("several sentences", "a { bracket"))[0] == "c4_curly_bracket"
    assert run(C4(), "Only one sentence.")[0] == "c4_too_few_sentences"
    reason, doc = run(C4(min_sentences=0, min_words_per_line=0),
                      "This site uses cookies to follow you.\nAnother valid line is here today.")
    assert reason is None and "cookies" not in doc.text


def test_fineweb_cases():
    assert run(FineWeb(), "")[0] is not None
    assert run(FineWeb(min_punctuated_lines=0.5), "No punctuation here\nAnother line without any\nStill none")[0] \
        == "fineweb_punctuated_lines"
    assert run(FineWeb(max_short_lines=0.5, min_punctuated_lines=0.0), "hi.\nbye.\nok.\nno.\nyes.")[0] \
        == "fineweb_short_lines"
    assert run(FineWeb(), WELL_WRITTEN)[0] is None
    assert run(FineWeb(max_newlines_per_word=0.1), "\n".join(["a"] * 50))[0] is not None


def test_a_rejected_row_keeps_the_text_the_stage_read_and_its_rewrite_apart():
    """C4's line filter empties a page of menu lines, then too few sentences removes it: the rejected
    row shows the page as read, and the emptied text in its own column."""
    import pyarrow as pa

    from tokenmill.filters.document import Rejected
    from tokenmill.transforms.filter_chain import run_chain
    from tokenmill.transforms.write import document_row, document_schema

    page = "Home | News | Sport\nWeather and more\nSign in to comment"
    (result,) = run_chain(Document("d", "s", page, lang="en"), [QualityFilter([C4()])])
    assert isinstance(result, Rejected) and result.reason == "c4_too_few_sentences"
    assert result.doc.text == page and result.rewritten_text == ""
    row = document_row(result.doc, document_schema({}, rejected=True), result)
    assert (row["text"], row["rewritten_text"]) == (page, "")
    assert document_schema({}, rejected=True).field("rewritten_text").type == pa.string()
    (kept_as_read,) = run_chain(Document("d", "s", "Too short.", lang="en"), [QualityFilter([GopherQuality()])])
    assert kept_as_read.rewritten_text is None  # a stage that rewrote nothing: no second text


def test_the_rewrite_reaches_the_rejected_shard_through_staging(tmp_path):
    """The same page through `curate`: removed in pass 1, staged, written to rejected/ in pass 3 with
    both texts."""
    import json

    import pyarrow.parquet as pq

    from tokenmill.jobs.curate import curate
    from tokenmill.pipeline.config import Config, CurateConfig, SourceConfig

    page = "Home | News | Sport\nWeather and more\nSign in to comment"
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "menu", "text": page}) + "\n")
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "in.jsonl")])},
                    stages={"quality": {"rule_sets": ["c4"]}}, curate=CurateConfig(keep_rejected=True))
    ledger = curate(config, str(tmp_path / "out"), ["quality"])
    assert ledger["removed"]["web"] == {"quality/c4_too_few_sentences": 1}
    rows = pq.read_table(tmp_path / "out" / "rejected").to_pylist()
    assert [(r["id"], r["text"], r["rewritten_text"]) for r in rows] == [("menu", page, "")]
