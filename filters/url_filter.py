"""URL filtering for web sources: blocklists in the UT1 format, and banned words in the URL.

FineWeb (Penedo et al. 2024, section 3.2) drops a page whose domain or URL is on the UT1 blacklist
of the Université Toulouse 1 (its `adult` category first), or whose URL holds a banned word or
subword. A UT1 category is a folder with a `domains` file (one domain a line: the domain and every
subdomain of it are blocked) and a `urls` file (one `host/path` a line: that page and everything
under the path are blocked); `#` starts a comment. Each list is named, and a page it blocks is
dropped as `url/<list>`; a banned word (a whole token of the URL, split at every non-alphanumeric
character) as `url/banned_word`, a banned subword (anywhere in the URL, as FineWeb matches `porn`
inside `freepornvideos`) as `url/banned_subword`. A document without a URL passes.

The lists are read through the `SideFiles` given (local by default; the pipeline passes Beam's file
systems), once per worker process for each folder, however many sources name it.
"""
from __future__ import annotations

import io
import re
from typing import Optional, Sequence
from urllib.parse import urlsplit

import ahocorasick

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document
from tokenmill.filters.side_files import LOCAL, SideFiles, shared

_URL_WORDS = re.compile(r"[^\W_]+")


LIST_FILES = ("domains", "urls")  # what a UT1 category folder holds that this filter reads


def read_list(path: Optional[str], files: SideFiles = LOCAL) -> set[str]:
    """The entries of one UT1 list file, lower case, comments and blank lines skipped (none for None)."""
    if path is None:
        return set()
    with files.open(path) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        return {entry for line in lines if (entry := line.split("#", 1)[0].strip().lower())}


def list_files(folder: str, files: SideFiles = LOCAL) -> dict[str, str]:
    """{"domains": path, "urls": path} of the UT1 lists a category folder holds (either may be absent)."""
    prefix = folder.rstrip("/") + "/"
    inside = {path[len(prefix):]: path for path in files.list(folder) if path.startswith(prefix)}
    return {name: inside[name] for name in LIST_FILES if name in inside}


def host_and_path(url: str) -> tuple[str, str]:
    """(host without `www.` or port, path without its trailing slash), lower case."""
    parts = urlsplit(url.strip().lower() if "://" in url else "//" + url.strip().lower())
    host = (parts.hostname or "").rstrip(".").removeprefix("www.")
    return host, parts.path.rstrip("/")


def parent_domains(host: str) -> list[str]:
    """`a.b.example.com` → [a.b.example.com, b.example.com, example.com, com]."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def path_prefixes(host: str, path: str) -> list[str]:
    """`host/a/b` → [host/a/b, host/a, host]: a UT1 URL entry blocks everything under it."""
    segments = [s for s in path.split("/") if s]
    return [host + "".join("/" + s for s in segments[:i]) for i in range(len(segments), -1, -1)]


class Blocklist:
    """One UT1 category: its blocked domains and URLs."""

    def __init__(self, name: str, folder: str, files: SideFiles = LOCAL):
        lists = list_files(folder, files)
        self.name = name
        self.domains = {host_and_path(d)[0] for d in read_list(lists.get("domains"), files)}
        self.urls = {"".join(host_and_path(u)) for u in read_list(lists.get("urls"), files)}

    def blocks(self, host: str, path: str) -> bool:
        return (any(d in self.domains for d in parent_domains(host))
                or any(u in self.urls for u in path_prefixes(host, path)))


class UrlFilter(DocumentFilter):
    """Drop a document whose URL a blocklist names or that holds a banned word or subword."""

    stage = "url"

    def __init__(self, lists: dict[str, str], banned_words: Sequence[str] = (), banned_subwords: Sequence[str] = (),
                 files: SideFiles = LOCAL):
        self.lists = dict(sorted(lists.items()))
        self.banned_words = frozenset(w.lower() for w in banned_words)
        self.banned_subwords = sorted({w.lower() for w in banned_subwords})
        self.files = files
        self._blocklists: Optional[list[Blocklist]] = None
        self._subwords = None

    def setup(self) -> None:
        self._blocklists = [shared(("url blocklist", name, folder), lambda: Blocklist(name, folder, self.files))
                            for name, folder in self.lists.items()]
        if self.banned_subwords:
            self._subwords = shared(("url subwords", tuple(self.banned_subwords)), self._subword_automaton)

    def _subword_automaton(self):
        automaton = ahocorasick.Automaton()
        for word in self.banned_subwords:
            automaton.add_word(word, word)
        automaton.make_automaton()
        return automaton

    def __call__(self, doc: Document) -> Optional[str]:
        if not doc.url:
            return None
        if self._blocklists is None:
            self.setup()
        host, path = host_and_path(doc.url)
        for blocklist in self._blocklists:
            if blocklist.blocks(host, path):
                return blocklist.name
        url = doc.url.lower()
        if self.banned_words and not self.banned_words.isdisjoint(_URL_WORDS.findall(url)):
            return "banned_word"
        if self._subwords is not None and next(self._subwords.iter(url), None) is not None:
            return "banned_subword"
        return None

    def __getstate__(self):
        return {**self.__dict__, "_blocklists": None, "_subwords": None}
