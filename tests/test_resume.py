"""A curate run that stops early: the rerun of the same command reads only the files not yet staged,
counts every document once and writes the bytes of an uninterrupted run; a run that fails leaves the
previous output whole and no partial file anywhere."""
import errno
import gzip
import json
import os
import shutil

import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems

from conftest import SAMPLE, output_tree
from tests.memfs import MemoryFileSystem
from tokenmill.jobs.curate import curate
from tokenmill.jobs.run_card import read_cards
from tokenmill.pipeline.config import Config, CurateConfig, SourceConfig
from tokenmill.pipeline.curate import publish
from tokenmill.transforms.formats import READERS

FILES = 6
STAGES = ["quality", "exact-dedup", "near-dedup"]


def config(inputs, pattern="*.jsonl", rule_sets=("sanity",)) -> Config:
    return Config(sources={"docs": SourceConfig("jsonl", [str(inputs / pattern)])},
                  stages={"quality": {"rule_sets": list(rule_sets)}}, curate=CurateConfig(keep_rejected=True))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The sample's articles in FILES files, the last with an exact and a near copy of earlier ones."""
    folder = tmp_path_factory.mktemp("inputs")
    with gzip.open(SAMPLE / "docs.jsonl.gz", "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    copies = [{**docs[1], "id": "copy-1"}, {**docs[8], "id": "near-8", "text": docs[8]["text"] + " Also."}]
    step = len(docs) // FILES
    for i in range(FILES):
        part = docs[i * step:(i + 1) * step] + (copies if i == FILES - 1 else [])
        (folder / f"f{i}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in part), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def clean(inputs, tmp_path_factory):
    """The uninterrupted run's output folder."""
    out = tmp_path_factory.mktemp("clean") / "out"
    curate(config(inputs), str(out), STAGES)
    return out


def leftovers(out) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name.endswith(".tmp"))


def test_a_rerun_after_a_crash_reads_only_the_files_not_staged(inputs, clean, tmp_path, monkeypatch):
    out = tmp_path / "out"
    read, real = [], READERS["jsonl"]

    def dies_on_the_fourth_file(path, source, options):
        read.append(path)
        if len(read) == 4:
            raise OSError(errno.EIO, "the connection dropped", path)  # an I/O error stops the run
        yield from real(path, source, options)

    monkeypatch.setitem(READERS, "jsonl", dies_on_the_fourth_file)
    with pytest.raises(Exception, match="the connection dropped"):
        curate(config(inputs), str(out), STAGES)
    monkeypatch.setitem(READERS, "jsonl", real)
    assert len(list((out / "_staging" / "receipts").iterdir())) == 3
    assert not (out / "curated").exists() and not (out / "ledger.json").exists() and not leftovers(out)

    staged = read[:3]
    touched = staged[0]
    os.utime(touched, (os.path.getatime(touched), os.path.getmtime(touched) + 60))  # changed since: read again
    curate(config(inputs), str(out), STAGES)

    again = sorted(set(map(str, inputs.glob("*.jsonl"))) - set(staged[1:]))
    assert read_cards(str(out))["curate"]["staged_files"] == {
        "read": len(again), "read_bytes": sum(os.path.getsize(p) for p in again), "reused": FILES - len(again)}
    assert output_tree(out) == output_tree(clean)
    assert not (out / "_staging").exists()
    ledger = json.loads((clean / "ledger.json").read_text())
    documents = sum(len(path.read_text().splitlines()) for path in inputs.glob("*.jsonl"))
    assert ledger["balanced"] and ledger["input"]["docs"] == documents  # each document counted once
    assert ledger["removed"]["docs"]["exact-dedup/duplicate"] == ledger["removed"]["docs"]["near-dedup/duplicate"] == 1


def test_a_failed_run_leaves_the_previous_output_whole_and_no_partial_file(inputs, clean, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(clean, out)
    previous = output_tree(out)
    create, failed = FileSystems.create, []

    class DiesMidWrite:
        """A curated file's sink whose storage fails after its first write."""

        def __init__(self, sink):
            self.sink, self.writes = sink, 0

        def write(self, data):
            self.writes += 1
            if self.writes == 2:
                failed.append(self)
                raise OSError(errno.ENOSPC, "no space left on device")
            return self.sink.write(data)

        def __getattr__(self, name):
            return getattr(self.sink, name)

    def failing_create(path, *args, **kwargs):
        sink = create(path, *args, **kwargs)
        return DiesMidWrite(sink) if "/_staging/curated/" in path and not failed else sink

    monkeypatch.setattr(FileSystems, "create", failing_create)
    # A run with another quality setting (other shards) dies in pass 3, inside a curated file.
    with pytest.raises(Exception, match="no space left on device"):
        curate(config(inputs, rule_sets=("sanity", "gopher_quality")), str(out), STAGES)
    monkeypatch.setattr(FileSystems, "create", create)
    assert failed
    assert output_tree(out, only=("curated", "rejected", "ledger.json")) == previous, "no new shard among the old"
    assert not leftovers(out)
    for path in out.rglob("*.parquet"):
        pq.read_metadata(path)  # every Parquet file there is whole

    curate(config(inputs), str(out), STAGES)   # the settings changed back: every file is staged again
    assert read_cards(str(out))["curate"]["staged_files"]["read"] == FILES
    assert output_tree(out) == previous and not (out / "_staging").exists()


def test_publishing_again_after_it_failed_halfway_loses_nothing(monkeypatch):
    """On an object store the new shards move one by one; a retried publish step finishes the move
    and never deletes what the first attempt already moved in."""
    out = "memfs://bucket/out"
    old = {"curated/web/part-00000-0000.parquet": b"old 0", "curated/web/part-00001-0000.parquet": b"old 1",
           "ledger.json": b"old ledger"}
    new = {"curated/web/part-00000-0000.parquet": b"new 0", "curated/web/part-00002-0000.parquet": b"new 2",
           "rejected/web/part-00000-0000.parquet": b"rejected", "ledger.json": b"new ledger"}
    MemoryFileSystem.objects.update({f"{out}/{name}": data for name, data in old.items()})
    MemoryFileSystem.objects.update({f"{out}/_staging/{name}": data for name, data in new.items()})
    MemoryFileSystem.objects[f"{out}/_staging/receipts/00000.pickle.zst"] = b"a receipt"
    rename, moved = MemoryFileSystem.rename, []

    def fails_on_the_second_file(self, sources, destinations):
        for source, destination in zip(sources, destinations):
            if moved:
                raise OSError(errno.ECONNRESET, "connection reset")
            rename(self, [source], [destination])
            moved.append(destination)

    try:
        monkeypatch.setattr(MemoryFileSystem, "rename", fails_on_the_second_file)
        with pytest.raises(OSError):
            publish(out)
        monkeypatch.setattr(MemoryFileSystem, "rename", rename)
        assert "ledger.json" not in MemoryFileSystem.files(out), "half published: no ledger says it is unfinished"
        publish(out)
        assert MemoryFileSystem.files(out) == new
    finally:
        MemoryFileSystem.objects.clear()
