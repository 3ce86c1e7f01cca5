"""LaTeX sources → the text of the paper, after the RedPajama arXiv recipe (Together 2023).

The preamble and comments go, `\\input`/`\\include` files are inlined, argument-free user macros
(`\\newcommand`, `\\renewcommand`, `\\def`) are expanded, the bibliography is dropped; the document
body is kept as LaTeX, so its section structure (`\\section{...}`) stays.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

COMMENT = re.compile(r"(?<!\\)%.*")
INPUT = re.compile(r"\\(?:input|include)\s*\{\s*([^}]+?)\s*\}")
NEWCOMMAND = re.compile(r"\\(?:re)?newcommand\*?\s*\{?\s*(\\[A-Za-z]+)\s*\}?\s*\{")
DEF = re.compile(r"\\def\s*(\\[A-Za-z]+)\s*\{")
BIBLIOGRAPHY = re.compile(r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}|\\bibliography\{[^}]*\}"
                          r"|\\bibliographystyle\{[^}]*\}|\\printbibliography(\[[^\]]*\])?", re.DOTALL)
DOCUMENT = re.compile(r"\\begin\{document\}(.*?)(\\end\{document\}|\Z)", re.DOTALL)
MAX_INPUT_DEPTH = 8


def is_main_file(text: str) -> bool:
    return "\\documentclass" in strip_comments(text)


def strip_comments(text: str) -> str:
    return "\n".join(COMMENT.sub("", line).rstrip() for line in text.split("\n"))


def inline_inputs(text: str, resolve: Callable[[str], Optional[str]], depth: int = 0) -> str:
    """Replace `\\input{name}` / `\\include{name}` by the file's comment-free text (if `resolve` finds it)."""
    if depth >= MAX_INPUT_DEPTH:
        return text

    def replace(match: re.Match) -> str:
        included = resolve(match.group(1))
        return "" if included is None else inline_inputs(strip_comments(included), resolve, depth + 1)

    return INPUT.sub(replace, text)


def user_macros(preamble: str) -> dict[str, str]:
    """Argument-free macros defined with \\newcommand, \\renewcommand or \\def (a definition with
    arguments, `[n]` or `#1`, does not match or is skipped)."""
    macros = {}
    for pattern in (NEWCOMMAND, DEF):
        for match in pattern.finditer(preamble):
            body = _braced(preamble, match.end() - 1)
            if body is not None and "#" not in body:
                macros[match.group(1)] = body
    return macros


def expand_macros(text: str, macros: dict[str, str]) -> str:
    if not macros:
        return text
    names = sorted(macros, key=len, reverse=True)
    pattern = re.compile("(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z])")
    return pattern.sub(lambda m: macros[m.group(1)], text)


def latex_to_text(main: str, resolve: Callable[[str], Optional[str]]) -> str:
    """The cleaned paper: comments off, inputs inlined, macros expanded, bibliography dropped."""
    text = inline_inputs(strip_comments(main), resolve)
    found = DOCUMENT.search(text)
    preamble, body = (text[: found.start()], found.group(1)) if found else ("", text)
    body = expand_macros(body, user_macros(preamble))
    body = BIBLIOGRAPHY.sub("", body)
    return re.sub(r"\n{3,}", "\n\n", body).strip()


def _braced(text: str, start: int) -> Optional[str]:
    """The content of the brace group opening at `start`."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1: i]
    return None
