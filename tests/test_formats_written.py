"""Readers on files the tests write: a Gutenberg book, a play, a MediaWiki dump (UTF-8 and UTF-16) and
Parquet with a named text column, each alone and all formats together through `curate`
(tests/test_formats_sources.py reads the real Frankenstein and Wikipedia dump in the corpus tier)."""
import bz2
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq

from test_formats_sources import FIXTURES, STDLIB_JSON, outcomes, read
from tokenmill.filters.document import Document
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig

PARAGRAPH = ("You will rejoice to hear that no disaster has accompanied the commencement of an enterprise which "
             "you have regarded with such evil forebodings. I arrived here yesterday, and my first task is to "
             "assure my dear sister of my welfare and increasing confidence in the success of my undertaking.")


def gutenberg_book(chapters: tuple[str, ...] = ()) -> str:
    body = "\n\n".join("\n".join(textwrap.wrap(paragraph, 70)) for paragraph in (PARAGRAPH, *chapters))
    return ("The Project Gutenberg eBook of Letters Home\n\nThis eBook is for the use of anyone anywhere.\n\n"
            "*** START OF THE PROJECT GUTENBERG EBOOK LETTERS HOME ***\n\nProduced by Volunteers\n\n"
            "Letters Home;\n\nor, the Northern Voyage\n\n[Transcriber's Note: spelling kept as printed.]\n\n"
            f"{body}\n\nlost in darkness and distance.\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK LETTERS HOME ***\n\nSection 1. General Terms of Use of "
            "Project Gutenberg-tm electronic works\n")


PLAY = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def page(title: str, ns: int, text: str, redirect: str = "") -> str:
    redirect_tag = f'    <redirect title="{redirect}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{len(title)}</id>\n{redirect_tag}"
            f"    <revision>\n      <timestamp>2014-10-26T04:50:23Z</timestamp>\n"
            f'      <text xml:space="preserve">{text}</text>\n    </revision>\n  </page>\n')


ARTICLE = ("{{Infobox voyage|ship=Walton}}\n'''Letters Home''' is an [[epistolary novel|epistolary]] story."
           "&lt;ref&gt;A citation.&lt;/ref&gt;\n\n== Etymology and terminology ==\nThe title names the letters "
           "a captain sends to his sister.\n\n{| class=\"wikitable\"\n|-\n| a || b\n|}\n[[Category:Novels]]")


def dump(encoding: str = "UTF-8") -> str:
    pages = [page("Letters Home", 0, ARTICLE), page("Northern Voyage", 0, "The '''voyage''' went north."),
             page("Voyage North", 0, "#REDIRECT [[Northern Voyage]]", redirect="Northern Voyage"),
             page("Talk:Letters Home", 1, "Is this a novel?")]
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
            "\n  <siteinfo>\n    <base>https://en.wikipedia.org/wiki/Main_Page</base>\n  </siteinfo>\n"
            + "".join(pages) + "</mediawiki>\n")


def test_gutenberg_book_loses_its_licence_and_keeps_its_paragraphs(tmp_path):
    path = tmp_path / "letters.txt"
    path.write_text(gutenberg_book(), encoding="utf-8")
    [book] = read("book", path)
    assert book.text.startswith("Letters Home;\n\nor, the Northern Voyage")
    assert book.text.endswith("lost in darkness and distance.")
    assert "Project Gutenberg" not in book.text and "*** START" not in book.text
    assert "Produced by" not in book.text and "Transcriber" not in book.text
    paragraph = next(p for p in book.text.split("\n\n") if p.startswith("You will rejoice"))
    assert paragraph == PARAGRAPH  # hard-wrapped lines joined


def test_book_without_markers_is_kept_whole_and_verse_keeps_its_lines(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(PLAY, encoding="utf-8")
    [play] = read("book", path)
    assert play.text == PLAY.strip()


def test_mediawiki_dump_articles_redirects_and_namespaces(tmp_path):
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(dump().encode("utf-8")))
    results = read("mediawiki", path)
    assert outcomes(results) == {"Document": 2, "Rejected/redirect": 1, "Rejected/non_article_namespace": 1}
    article = next(r for r in results if isinstance(r, Document) and r.meta["title"] == "Letters Home")
    assert article.url == "https://en.wikipedia.org/wiki/Letters_Home"
    assert article.text.startswith("Letters Home\n\nLetters Home is an epistolary story.")
    assert "\nEtymology and terminology\n" in article.text  # section headings kept as text
    for markup in ("{{", "}}", "<ref", "[[Category:", "{|", "'''", "A citation"):
        assert markup not in article.text, markup


def test_mediawiki_utf16_dump_gives_the_same_articles(tmp_path):
    utf8, utf16 = tmp_path / "a.xml", tmp_path / "b.xml"
    utf8.write_bytes(dump("UTF-8").encode("utf-8"))
    utf16.write_bytes(dump("UTF-16").encode("utf-16"))
    texts = [[r.text for r in read("mediawiki", p) if isinstance(r, Document)] for p in (utf8, utf16)]
    assert texts[0] == texts[1] and len(texts[0]) == 2


def test_parquet_with_a_named_text_column(sample_texts, tmp_path):
    path = tmp_path / "docs.parquet"
    ids = [f"doc-{i}" for i in range(len(sample_texts))]
    pq.write_table(pa.table({"body": sample_texts, "id": ids}), path, row_group_size=3)
    docs = read("parquet", path, text_column="body")
    assert [d.text for d in docs] == sample_texts
    assert [d.id for d in docs] == ids
    assert outcomes(read("parquet", path)) == {"Failed": 1}  # no `text` column: one clear error


def test_every_format_end_to_end_with_a_balanced_ledger(sample_texts, tmp_path):
    (tmp_path / "books").mkdir()
    chapters = tuple(" ".join(text.split()) for text in sample_texts[20:23])
    (tmp_path / "books" / "letters.txt").write_text(gutenberg_book(chapters), encoding="utf-8")
    (tmp_path / "books" / "play.txt").write_text(PLAY, encoding="utf-8")
    (tmp_path / "dump.xml.bz2").write_bytes(bz2.compress(dump().encode("utf-8")))
    pq.write_table(pa.table({"text": sample_texts[:20]}), tmp_path / "docs.parquet")
    sources = {
        "books": SourceConfig("book", [str(tmp_path / "books" / "*.txt")]),
        "wiki": SourceConfig("mediawiki", [str(tmp_path / "dump.xml.bz2")]),
        "code": SourceConfig("code", [str(STDLIB_JSON)]),
        "papers": SourceConfig("latex", [str(FIXTURES / "latex" / "**")]),
        "tables": SourceConfig("parquet", [str(tmp_path / "docs.parquet")]),
    }
    ledger = curate(Config(sources=sources), str(tmp_path / "out"), [])  # every reader, through to the writer
    assert ledger["balanced"]
    for source in sources:
        n = ledger["input"][source]
        assert n == ledger["kept"][source] + sum(ledger["removed"][source].values()) + sum(
            ledger["errors"][source].values())
        assert ledger["kept"][source] > 0, (source, ledger["removed"][source])
    assert ledger["removed"]["wiki"]["read/redirect"] == 1
    assert ledger["input"]["books"] == 2
