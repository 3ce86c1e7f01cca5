"""Plain-text books: Project Gutenberg boilerplate off, hard-wrapped lines joined into paragraphs.

Works on a stream of lines, so a book of any size passes through in constant memory. Gutenberg
files open with a licence header ending in ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***`` and
close with ``*** END OF ...`` followed by the full licence; both are dropped, as are "Produced by"
credits just after the start marker and bracketed transcriber's notes. A text without the markers
is kept whole.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator

START_MARKER = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
END_MARKER = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
OLD_END_MARKER = re.compile(r"^\s*End of (the )?Project Gutenberg", re.IGNORECASE)
CREDIT = re.compile(r"^\s*(Produced by|E-text prepared by|Transcribed from|This e-?text was produced)", re.IGNORECASE)
TRANSCRIBER_NOTE = re.compile(r"^\s*\[?\s*Transcriber'?s? [Nn]otes?", re.IGNORECASE)
# The licence header is at most a few hundred lines; the start marker is looked for that far.
HEADER_LINES = 600
# A paragraph whose lines are mostly this short is verse, a list or a table: its breaks are kept.
SHORT_LINE = 45


def book_paragraphs(lines: Iterable[str]) -> Iterator[str]:
    """The paragraphs of a book's body, boilerplate removed, prose lines joined."""
    paragraph: list[str] = []
    for line in _body(lines):
        if line.strip():
            paragraph.append(line.rstrip())
        elif paragraph:
            yield _join(paragraph)
            paragraph = []
    if paragraph:
        yield _join(paragraph)


def _body(lines: Iterable[str]) -> Iterator[str]:
    lines = iter(lines)
    head = []
    for line in lines:
        head.append(line)
        if START_MARKER.match(line):
            head = []
            break
        if len(head) >= HEADER_LINES:
            break
    in_credits = not head  # just after a start marker
    in_note = False
    for line in _chain(head, lines):
        if END_MARKER.match(line) or OLD_END_MARKER.match(line):
            return
        if in_credits:
            if CREDIT.match(line):
                continue
            if line.strip():
                in_credits = False
        if in_note or TRANSCRIBER_NOTE.match(line):
            in_note = "]" not in line if line.lstrip().startswith("[") or in_note else False
            continue
        yield line


def _chain(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest


def _join(lines: list[str]) -> str:
    short = sum(len(line.strip()) < SHORT_LINE for line in lines)
    if len(lines) > 1 and short * 2 >= len(lines):
        return "\n".join(line.strip() for line in lines)
    return " ".join(line.strip() for line in lines)
