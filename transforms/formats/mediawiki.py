"""MediaWiki XML dumps (`pages-articles.xml`, `.xml.bz2`): one document per article.

The XML is streamed with iterparse and each page is cleared once read, so a dump of any size
passes in constant memory; the parser honours the XML declaration's encoding and a byte-order
mark (UTF-16 dumps included). Redirects and pages outside the article namespace are removed with
a counted reason; the article URL comes from the dump's own `<base>`.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterator
from urllib.parse import quote

from tokenmill.filters.document import Document, Failed
from tokenmill.filters.extract.wikitext import wikitext_to_text
from tokenmill.transforms.formats.common import READ_STAGE, STREAM_ERRORS, content_error, ReadOptions, open_decompressed, reject_at_read

ARTICLE_NAMESPACE = "0"


def read_mediawiki(path: str, source: str, options: ReadOptions) -> Iterator:
    base = None
    namespaces = set(options.extra.get("namespaces", [ARTICLE_NAMESPACE]))
    last_title = "<start of file>"
    try:
        with open_decompressed(path) as stream:
            for _, element in ET.iterparse(stream, events=("end",)):
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "base" and base is None:
                    base = (element.text or "").rsplit("/", 1)[0] + "/"
                elif tag == "page":
                    page = _fields(element)
                    element.clear()
                    last_title = page["title"]
                    yield _document(page, path, source, options, base, namespaces)
                elif tag == "siteinfo":
                    element.clear()
    except ET.ParseError as err:
        yield Failed(source, READ_STAGE, "malformed_xml", f"{path} after {last_title!r}", str(err))
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "corrupt_compression", f"{path} after {last_title!r}", str(content_error(err)))


def _fields(page: ET.Element) -> dict:
    fields = {"title": "", "ns": ARTICLE_NAMESPACE, "id": "", "redirect": False, "text": "", "timestamp": None}
    for child in page.iter():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in ("title", "ns") or (tag == "id" and not fields["id"]):
            fields[tag] = (child.text or "").strip()
        elif tag == "redirect":
            fields["redirect"] = True
        elif tag == "text":
            fields["text"] = child.text or ""
        elif tag == "timestamp":
            fields["timestamp"] = child.text
    return fields


def _document(page: dict, path: str, source: str, options: ReadOptions, base, namespaces):
    doc_id = f"{source}:{page['id'] or page['title']}"
    url = f"{base}{quote(page['title'].replace(' ', '_'))}" if base else None
    meta = {"path": path, "title": page["title"], "namespace": page["ns"], "timestamp": page["timestamp"]}
    empty = Document(doc_id, source, "", url, meta=meta)
    if page["ns"] not in namespaces:
        return reject_at_read(empty, "non_article_namespace")
    if page["redirect"] or page["text"].lstrip().lower().startswith("#redirect"):
        return reject_at_read(empty, "redirect")
    if len(page["text"].encode("utf-8")) > options.max_document_bytes:
        return reject_at_read(empty, "too_large")
    text = wikitext_to_text(page["text"])
    if not text:
        return reject_at_read(empty, "empty")
    body = f"{page['title']}\n\n{text}"
    return Document(doc_id, source, body, url, meta=meta)
