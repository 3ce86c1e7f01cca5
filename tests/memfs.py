"""`memfs://`: a Beam FileSystem that keeps objects in this process's memory, with an object
store's semantics (no directories, a folder is only a prefix, like gs:// and s3://).

A pipeline that reaches its files only through Beam's FileSystems runs unchanged on it; one that
calls `open()`, `os.listdir` or `glob` on a memfs:// path fails. It serves the in-process runner
(FnApiRunner, one worker), whose workers share this process's memory.
"""
from __future__ import annotations

import io
import time

from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem


class _Upload(io.BytesIO):
    def __init__(self, store: dict, path: str):
        super().__init__()
        self.store, self.path = store, path

    def close(self):
        if not self.closed:
            self.store[self.path] = self.getvalue()
        super().close()


class MemoryFileSystem(FileSystem):
    objects: dict[str, bytes] = {}
    SCHEME = "memfs"

    @classmethod
    def scheme(cls):
        return cls.SCHEME

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rpartition("/")
        return head, tail

    def has_dirs(self):
        return False

    def mkdirs(self, path):
        pass

    def _list(self, dir_or_prefix):
        for path, data in sorted(self.objects.items()):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(data), time.time())

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        return _Upload(self.objects, path)

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        if path not in self.objects:
            raise BeamIOError(f"no object {path}", {path: FileNotFoundError(path)})
        return io.BytesIO(self.objects[path])

    def copy(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names):
            self.objects[destination] = self.objects[source]

    def rename(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names):
            self.objects[destination] = self.objects.pop(source)

    def exists(self, path):
        return path in self.objects

    def size(self, path):
        return len(self.objects[path])

    def last_updated(self, path):
        return time.time()

    def checksum(self, path):
        return str(hash(self.objects[path]))

    def metadata(self, path):
        return FileMetadata(path, len(self.objects[path]), time.time())

    def delete(self, paths):
        for path in paths:
            prefix = path.rstrip("/") + "/"
            doomed = [p for p in self.objects if p == path or p.startswith(prefix)]
            if not doomed:
                raise BeamIOError("Delete operation failed", {path: FileNotFoundError(path)})
            for name in doomed:
                del self.objects[name]

    @classmethod
    def files(cls, prefix: str) -> dict[str, bytes]:
        """The objects under `prefix`, by their name relative to it."""
        prefix = prefix.rstrip("/") + "/"
        return {p[len(prefix):]: d for p, d in sorted(cls.objects.items()) if p.startswith(prefix)}
