"""arXiv-style LaTeX: a main `.tex` file (its `\\input`s read beside it) or a `.tar.gz` of one paper.

A `.tex` file without `\\documentclass` is a part of some paper, not a paper: it is removed as
`read/not_main_file` (it is inlined where its main file includes it).
"""
from __future__ import annotations

import io
import posixpath
import tarfile
from typing import Iterator, Optional

from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.filters.extract.latex import is_main_file, latex_to_text
from tokenmill.transforms.formats.common import READ_STAGE, STREAM_ERRORS, content_error, ReadOptions, decode_text, open_raw, reject_at_read

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def read_latex(path: str, source: str, options: ReadOptions) -> Iterator:
    doc_id = derived_id(path, 0)
    meta = {"path": path}
    try:
        if path.lower().endswith(ARCHIVE_SUFFIXES):
            files = _archive_files(path, options.max_document_bytes)
        else:
            files = {posixpath.basename(path): _read(path, options.max_document_bytes)}
    except (tarfile.TarError, *STREAM_ERRORS) as err:
        yield Failed(source, READ_STAGE, "unreadable", path, str(content_error(err))[:500])
        return
    mains = sorted(name for name, text in files.items() if name.endswith(".tex") and text and is_main_file(text))
    if not mains:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "not_main_file")
        return
    main = mains[0]
    meta["main_file"] = main
    folder = posixpath.dirname(path)

    def resolve(name: str) -> Optional[str]:
        for candidate in (name, f"{name}.tex"):
            key = posixpath.normpath(posixpath.join(posixpath.dirname(main), candidate))
            if key in files:
                return files[key]
            if not path.lower().endswith(ARCHIVE_SUFFIXES):
                full = FileSystems.join(folder, key)
                if FileSystems.exists(full):
                    return _read(full, options.max_document_bytes)
        return None

    text = latex_to_text(files[main], resolve)
    if len(text.encode("utf-8")) > options.max_document_bytes:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "too_large")
    elif not text:
        yield reject_at_read(Document(doc_id, source, "", meta=meta), "empty")
    else:
        yield Document(doc_id, source, text, meta=meta)


def _read(path: str, limit: int) -> str:
    with open_raw(path) as stream:
        return decode_text(stream.read(limit))[0]


def _archive_files(path: str, limit: int) -> dict[str, str]:
    """The text files of a paper's archive, by their normalised path inside it."""
    with open_raw(path) as stream:
        data = stream.read(limit + 1)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith((".tex", ".bbl", ".sty", ".cls")) and member.size <= limit:
                handle = archive.extractfile(member)
                if handle is not None:
                    files[posixpath.normpath(member.name)] = decode_text(handle.read())[0]
    return files
