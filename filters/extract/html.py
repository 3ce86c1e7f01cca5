"""HTML → main text: resiliparse (the default, fast) or trafilatura (FineWeb's choice, slower).

Both drop menus, footers and other boilerplate. On trafilatura's own labelled pages
(tests/benchmarks/bench_extraction.py) trafilatura finds more of the main text; resiliparse is
several times faster. `trafilatura-fast` is trafilatura without its fallback extractors (`fast=True`):
1.3-1.5x faster there in CPU time, at an F1 0.002 lower. trafilatura is an optional dependency:
`pip install 'tokenmill[trafilatura]'`.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Optional

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding


def decode_html(html: bytes, charset: Optional[str]) -> str:
    """The page's text: its declared charset, else the one resiliparse detects."""
    return bytes_to_str(html, charset or detect_encoding(html))


def resiliparse_text(html: str) -> str:
    return extract_plain_text(html, main_content=True, alt_texts=False, links=False)


def trafilatura_text(html: str, fast: bool = False) -> str:
    """trafilatura's main text, tables kept, comments dropped; `fast`: without its fallback extractors."""
    try:
        import trafilatura
    except ImportError as error:
        raise ImportError("extractor: trafilatura needs the extra: pip install 'tokenmill[trafilatura]'") from error
    return trafilatura.extract(html, include_comments=False, include_tables=True, deduplicate=False, fast=fast) or ""


EXTRACTORS: dict[str, Callable[[str], str]] = {"resiliparse": resiliparse_text, "trafilatura": trafilatura_text,
                                               "trafilatura-fast": partial(trafilatura_text, fast=True)}
# The extractors that need the optional trafilatura package (checked when the config loads).
TRAFILATURA_EXTRACTORS = frozenset({"trafilatura", "trafilatura-fast"})


def html_to_text(html: bytes, charset: Optional[str], extractor: str = "resiliparse") -> str:
    """Main content of an HTML page as plain text, by the named extractor."""
    if extractor not in EXTRACTORS:
        raise ValueError(f"extractor: {extractor!r} is not one of {', '.join(EXTRACTORS)}")
    return EXTRACTORS[extractor](decode_html(html, charset))
