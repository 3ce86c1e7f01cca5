"""Side files (evaluation sets, blocklists, word lists, models) through Beam's FileSystems: what the
pipeline gives every filter (filters/side_files.py), so a stage reads local, `gs://`, `s3://` and
`hdfs://` paths alike and no worker needs a copy of its own."""
from __future__ import annotations

import os
from typing import BinaryIO

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.side_files import SideFiles


class BeamFiles(SideFiles):
    def open(self, path: str) -> BinaryIO:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def list(self, folder: str) -> list[str]:
        try:
            found = FileSystems.match([folder.rstrip("/") + "/**"])[0].metadata_list
        except BeamIOError:
            return []
        return sorted(m.path for m in found if not m.path.endswith("/"))

    def is_remote(self, path: str) -> bool:
        return FileSystems.get_scheme(path) is not None


BEAM_FILES = BeamFiles()


def is_file(path: str) -> bool:
    """Whether `path` names a file (an object, on a store without folders)."""
    try:
        found = FileSystems.match([path])[0].metadata_list
    except BeamIOError:
        return False
    return any(m.path == path for m in found) and not (FileSystems.get_scheme(path) is None and os.path.isdir(path))
