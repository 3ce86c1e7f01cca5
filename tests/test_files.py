"""Files appear whole or not at all (transforms/files.py), on a local disk and on an object store."""
import errno

import pytest
from apache_beam.io.filesystems import FileSystems

from tests.memfs import MemoryFileSystem
from tokenmill.transforms.files import AtomicFile, sweep, write_file


def listing(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_file_appears_under_its_name_only_when_complete(tmp_path):
    target = tmp_path / "out" / "part-00000.parquet"
    with AtomicFile(str(target)) as sink:
        sink.write(b"first half ")
        assert not target.exists()
        [temporary] = listing(tmp_path)
        assert temporary.startswith("out/_part-00000.parquet.") and temporary.endswith(".tmp")
        sink.write(b"second half")
    assert target.read_bytes() == b"first half second half"
    assert listing(tmp_path) == ["out/part-00000.parquet"]


def test_a_failed_write_leaves_the_previous_file_and_nothing_else(tmp_path):
    target = tmp_path / "ledger.json"
    write_file(str(target), b"the previous run's")
    with pytest.raises(OSError):
        with AtomicFile(str(target)) as sink:
            sink.write(b"half of the new")
            raise OSError(errno.EIO, "the disk went away")
    assert target.read_bytes() == b"the previous run's"
    assert listing(tmp_path) == ["ledger.json"]
    write_file(str(target), b"the new one")
    assert target.read_bytes() == b"the new one" and listing(tmp_path) == ["ledger.json"]


def test_sweep_removes_what_a_killed_writer_left_and_globs_pass_temporaries_by(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    killed = AtomicFile(str(tmp_path / "a" / "b" / "part-00001.parquet"))
    killed.write(b"partial")
    killed.sink.close()                      # the process died here: no commit, no discard
    write_file(str(tmp_path / "a" / "part-00000.parquet"), b"whole")
    found = FileSystems.match([f"{tmp_path}/**.parquet"])[0].metadata_list
    assert [m.path for m in found] == [str(tmp_path / "a" / "part-00000.parquet")]
    sweep(str(tmp_path))
    assert listing(tmp_path) == ["a/part-00000.parquet"]


def test_on_an_object_store_too():
    try:
        with pytest.raises(ValueError):
            with AtomicFile("memfs://bucket/out/shard-00000.parquet") as sink:
                sink.write(b"half")
                raise ValueError("a bundle failed")
        assert MemoryFileSystem.files("memfs://bucket/out") == {}
        write_file("memfs://bucket/out/shard-00000.parquet", b"old")
        write_file("memfs://bucket/out/shard-00000.parquet", b"new")
        assert MemoryFileSystem.files("memfs://bucket/out") == {"shard-00000.parquet": b"new"}
    finally:
        MemoryFileSystem.objects.clear()
