"""MediaWiki markup → plain text, with mwparserfromhell.

Templates (infoboxes, citations, navboxes), references, tables, galleries, math, file and image
links and category links go; section headings stay as lines of text; links keep their visible
text; bold, italics and HTML formatting are unwrapped.
"""
from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell.nodes import Comment, Heading, Tag, Template, Text, Wikilink

DROPPED_TAGS = frozenset({"ref", "references", "gallery", "table", "math", "chem", "score", "timeline",
                          "imagemap", "syntaxhighlight", "source", "templatedata", "mapframe", "graph"})
DROPPED_LINK_PREFIXES = ("file:", "image:", "media:", "category:")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")
# References and comments go before parsing: they are the commonest markup, and an odd quote
# inside one can make the parser give up on the rest of a section.
_REFS_AND_COMMENTS = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>|<!--.*?-->", re.DOTALL | re.IGNORECASE)


def wikitext_to_text(wikitext: str) -> str:
    code = mwparserfromhell.parse(_REFS_AND_COMMENTS.sub("", wikitext))
    _clean(code)
    text = code.strip_code(normalize=True, collapse=True)
    lines = [line.strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _clean(code) -> None:
    """Drop unwanted nodes in one walk (rebuilding each node list: removing one by one is quadratic);
    headings become plain lines. strip_code then drops the templates and invisible tags left deeper."""
    kept = []
    for node in code.nodes:
        if isinstance(node, Heading):
            kept.append(Text(f"\n{node.title.strip_code().strip()}\n"))
            continue
        if _dropped(node):
            continue
        if isinstance(node, Tag) and node.contents is not None:
            _clean(node.contents)
        elif isinstance(node, Wikilink) and node.text is not None:
            _clean(node.text)
        kept.append(node)
    code.nodes = kept


def _dropped(node) -> bool:
    if isinstance(node, (Template, Comment)):
        return True
    if isinstance(node, Tag):
        return str(node.tag).strip().lower() in DROPPED_TAGS
    if isinstance(node, Wikilink):
        return str(node.title).strip().lower().lstrip(":").startswith(DROPPED_LINK_PREFIXES)
    return False
