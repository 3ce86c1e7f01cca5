"""Files a stage reads beside the documents (evaluation sets, URL blocklists, word lists, models), and
the per-process cache that loads each once.

A filter never imports Beam, so it does not open these files itself: it takes a `SideFiles`, local
files by default, and the pipeline gives it one backed by Beam's FileSystems
(transforms/side_files.py), through which the same filter reads `gs://`, `s3://` and `hdfs://` paths.

What a filter builds from its files (an n-gram index, a blocklist, an automaton, a model) is kept by
`shared`, once per process for each key (the paths and the settings that shape it): every source's
chain, and every DoFn instance a runner creates in that process, use the one copy.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from typing import BinaryIO, Callable, TypeVar

T = TypeVar("T")
COPY_CHUNK = 1 << 22


class SideFiles:
    """Local files. A subclass reaches other file systems by overriding the three methods."""

    def open(self, path: str) -> BinaryIO:
        """The file's bytes as stored (no decompression)."""
        return open(path, "rb")

    def list(self, folder: str) -> list[str]:
        """The path of every file under `folder` (subfolders included), sorted; [] for no such folder."""
        return sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)

    def is_remote(self, path: str) -> bool:
        """Whether a library that opens only local paths (fastText, transformers) needs a local copy."""
        return False


LOCAL = SideFiles()

_built: dict = {}
_locks: dict = {}
_guard = threading.Lock()


def shared(key, build: Callable[[], T]) -> T:
    """`build()`, called once per process for `key` (a hashable of paths and settings); threads that
    ask for the same key meanwhile wait for that one build. A build that raises is tried again next time."""
    if key in _built:
        return _built[key]
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _built:
            _built[key] = build()
    return _built[key]


def local_path(path: str, files: SideFiles) -> str:
    """A local path holding `path`'s contents (a file, or a folder with everything under it): `path`
    itself where it is local, else a copy in this process's temporary folder, made once."""
    return path if not files.is_remote(path) else shared(("local copy", path), lambda: _copy(path, files))


def _copy(path: str, files: SideFiles) -> str:
    name = hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
    target = os.path.join(_scratch(), name, os.path.basename(path.rstrip("/")))
    under = files.list(path)
    prefix = path.rstrip("/") + "/"
    pairs = ([(name, os.path.join(target, name[len(prefix):])) for name in under if name.startswith(prefix)]
             or [(path, target)])
    for remote, local in pairs:
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with files.open(remote) as source, open(local, "wb") as sink:
            shutil.copyfileobj(source, sink, COPY_CHUNK)
    return target


def _scratch() -> str:
    def make() -> str:
        folder = tempfile.mkdtemp(prefix="tokenmill-side-files-")
        atexit.register(shutil.rmtree, folder, True)
        return folder

    return shared("scratch folder", make)
