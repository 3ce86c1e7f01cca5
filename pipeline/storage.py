"""Paths and deletions through Beam's FileSystems, so local folders and gs://, s3://, hdfs:// work alike."""
from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems


def absolute(path: str) -> str:
    """A local path made absolute (workers may run elsewhere); a remote one (gs://...) as given."""
    path = path.rstrip("/") or "/"
    return path if FileSystems.get_scheme(path) else os.path.abspath(path)


def delete_matching(patterns: list[str]) -> None:
    """Delete every file the patterns match (none is fine)."""
    paths = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
    if paths:
        FileSystems.delete(paths)


def remove_tree(folder: str) -> None:
    """Delete `folder` and everything under it, then the folder itself where the file system has
    folders (a missing folder is fine)."""
    delete_matching([f"{folder}/**"])
    if FileSystems.exists(folder):
        FileSystems.delete([folder])


def move_tree(source: str, destination: str) -> None:
    """Move every file under `source` to the same place under `destination`, which holds nothing:
    one rename of the folder where the file system has folders, one rename per file on an object
    store (a missing `source` moves nothing)."""
    if FileSystems.get_filesystem(source).has_dirs():
        if FileSystems.exists(source):
            FileSystems.rename([source], [destination])
        return
    files = [m.path for m in FileSystems.match([f"{source}/**"])[0].metadata_list]
    if files:
        FileSystems.rename(files, [destination + path[len(source):] for path in files])
