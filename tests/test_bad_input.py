"""Bad input ends in the ledger — an error or a rejection with a reason — and the run completes.

These files are damaged on purpose, a large share of their few records each (a zstd stream cut in
half gives nothing at all), so the suite runs with its own limits, `max_error_share: 1` and
`max_unread_files: 1`; at the defaults such runs fail (tests/test_data_loss.py)."""
import gzip
import json

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig

PROSE = ("The harbour master kept a careful record of every ship that entered the bay, noting its cargo, "
         "its crew and the weather it had met on the way. ")


def run(tmp_path, fmt, path, stages=None, **curate_settings):
    config = Config(sources={"src": SourceConfig(format=fmt, paths=[str(path)])})
    for key, value in {"max_error_share": 1.0, "max_unread_files": 1, **curate_settings}.items():
        setattr(config.curate, key, value)
    ledger = curate(config, str(tmp_path / "out"), stages)
    assert ledger["balanced"]
    assert ledger["input"]["src"] == ledger["kept"]["src"] + sum(ledger["removed"]["src"].values()) + sum(
        ledger["errors"]["src"].values())
    return ledger


@pytest.fixture(scope="module", params=["sample", pytest.param("corpus", marks=pytest.mark.corpus)])
def warc_members(request):
    """The gzip members of a WARC, one record each: the bundled sample's, or a real Common Crawl one."""
    path = SAMPLE / "web.warc.gz" if request.param == "sample" else (
        request.getfixturevalue("corpus") / "web" / "cc-main-2020-34_resiliparse_part1.warc.gz")
    raw = path.read_bytes()
    starts = [i for i in range(len(raw) - 2) if raw[i:i + 3] == b"\x1f\x8b\x08"]
    members = []
    for begin, end in zip(starts, starts[1:] + [len(raw)]):
        try:
            gzip.decompress(raw[begin:end])
            members.append(raw[begin:end])
        except (OSError, EOFError):
            members[-1] += raw[begin:end]  # a magic number inside compressed data, not a member start
    return members


def test_corrupt_gzip_member_costs_one_record_not_the_shard(tmp_path, warc_members):
    clean = run(tmp_path / "clean", "warc", _write(tmp_path / "clean.warc.gz", b"".join(warc_members)), stages=[])
    victim = max(range(len(warc_members)), key=lambda i: len(warc_members[i]) if b"response" in gzip.decompress(
        warc_members[i])[:200] else 0)
    broken = bytearray(warc_members[victim])
    broken[len(broken) // 2: len(broken) // 2 + 64] = b"\x00" * 64
    members = warc_members[:victim] + [bytes(broken)] + warc_members[victim + 1:]
    ledger = run(tmp_path / "bad", "warc", _write(tmp_path / "bad.warc.gz", b"".join(members)), stages=[])
    assert ledger["errors"]["src"] == {"read/corrupt_gzip": 1}
    assert ledger["kept"]["src"] == clean["kept"]["src"] - 1


def test_truncated_warc_record(tmp_path, warc_members):
    whole = gzip.decompress(b"".join(warc_members))
    starts = [i for i in range(len(whole)) if whole.startswith(b"WARC/1.0", i)] + [len(whole)]
    # the last response record long enough to be cut 3,000 bytes in (the sample ends with short pages)
    last_long = max(a for a, b in zip(starts, starts[1:]) if b - a > 6000 and b"WARC-Type: response" in whole[a:a + 200])
    cut = whole[: last_long + 3000]
    ledger = run(tmp_path, "warc", _write(tmp_path / "cut.warc.gz", gzip.compress(cut, mtime=0)), stages=[])
    assert ledger["errors"]["src"] == {"read/truncated_record": 1}
    assert ledger["kept"]["src"] >= 5


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    good = json.dumps({"id": "ok", "text": PROSE}).encode()
    bad = b'{"id": "bad", "text": "' + PROSE.encode() + b'caf\xe9 \xff\xfe"}'
    not_json = b"{this is not json"
    ledger = run(tmp_path, "jsonl", _write(tmp_path / "mixed.jsonl", b"\n".join([good, bad, not_json]) + b"\n"),
                 stages=[])
    assert ledger["kept"]["src"] == 2
    assert ledger["errors"]["src"] == {"read/invalid_json": 1}
    assert ledger["notes"]["src"] == {"read/documents_with_replaced_bytes": 1}
    texts = pq.read_table(tmp_path / "out" / "curated" / "src").to_pydict()
    assert "caf\ufffd \ufffd\ufffd" in texts["text"][texts["id"].index("bad")]


def test_binary_and_empty_files(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "page.txt").write_text(PROSE * 3, encoding="utf-8")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (folder / "empty.txt").write_bytes(b"")
    ledger = run(tmp_path, "text", folder / "*.txt", stages=[])
    assert ledger["kept"]["src"] == 1
    assert ledger["removed"]["src"] == {"read/binary": 1, "read/empty": 1}
    empty_jsonl = run(tmp_path / "j", "jsonl", _write(tmp_path / "empty.jsonl.gz", gzip.compress(b"", mtime=0)))
    assert empty_jsonl["errors"]["src"] == {"read/no_documents": 1}


def test_a_corrupt_compressed_jsonl_keeps_what_came_before(tmp_path):
    lines = b"".join(json.dumps({"id": f"d{i}", "text": PROSE}).encode() + b"\n" for i in range(200))
    packed = gzip.compress(lines, mtime=0)
    ledger = run(tmp_path, "jsonl", _write(tmp_path / "cut.jsonl.gz", packed[: len(packed) * 2 // 3]), stages=[])
    assert ledger["errors"]["src"] == {"read/corrupt_compression": 1}
    assert 0 < ledger["kept"]["src"] < 200


def test_a_truncated_zstd_jsonl_is_an_error_not_a_quiet_loss(tmp_path):
    import zstandard

    lines = b"".join(json.dumps({"id": f"d{i}", "text": PROSE}).encode() + b"\n" for i in range(300))
    whole = zstandard.ZstdCompressor().compress(lines)
    assert run(tmp_path / "a", "jsonl", _write(tmp_path / "whole.jsonl.zst", whole), stages=[])["kept"]["src"] == 300
    ledger = run(tmp_path / "b", "jsonl", _write(tmp_path / "cut.jsonl.zst", whole[: len(whole) // 2]), stages=[])
    assert ledger["errors"]["src"] == {"read/corrupt_compression": 1}


def test_a_100_mb_document_is_rejected_without_stopping_the_run(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as out:
        out.write(json.dumps({"id": "small", "text": PROSE}).encode() + b"\n")
        out.write(b'{"id": "huge", "text": "')
        chunk = b"word " * 200_000
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}\n')
        out.write(json.dumps({"id": "after", "text": PROSE + "after"}).encode() + b"\n")
    assert path.stat().st_size > 100_000_000
    ledger = run(tmp_path, "jsonl", path, stages=[])
    assert ledger["kept"]["src"] == 2
    assert ledger["removed"]["src"] == {"read/too_large": 1}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def warc_response(number: int) -> bytes:
    """One gzip member holding one WARC response record of an HTML page (as Common Crawl writes them)."""
    html = (f"<html><head><title>Page {number}</title></head><body><article><p>{PROSE * 3}</p>"
            f"<p>Entry {number} of the harbour log.</p></article></body></html>").encode()
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(html) + html
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://example.org/{number}\r\n"
            f"WARC-Date: 2024-05-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(head + http + b"\r\n\r\n", mtime=0)


def test_a_gzip_warc_that_ends_inside_a_member_is_an_error(tmp_path):
    data = b"".join(warc_response(i) for i in range(10))
    whole = run(tmp_path / "whole", "warc", _write(tmp_path / "whole.warc.gz", data), stages=[])
    assert whole["input"]["src"] == 10 and whole["errors"]["src"] == {}
    for share in (0.6, 0.95):
        cut_file = _write(tmp_path / f"cut{share}.warc.gz", data[:int(len(data) * share)])
        cut = run(tmp_path / f"cut{share}", "warc", cut_file, stages=[])
        assert cut["errors"]["src"].get("read/truncated_gzip") == 1


def test_the_first_60_percent_of_a_common_crawl_warc_is_an_error(corpus, tmp_path):
    raw = (corpus / "web" / "allenai-crawl_dolma_sample-0000.warc.gz").read_bytes()
    ledger = run(tmp_path, "warc", _write(tmp_path / "cut.warc.gz", raw[:int(len(raw) * 0.6)]), stages=[])
    assert ledger["errors"]["src"].get("read/truncated_gzip") == 1


def test_an_io_error_fails_the_read_so_the_runner_retries_it(tmp_path):
    """Reading /proc/self/mem from its start fails in the kernel (EIO): storage, not content."""
    from tokenmill.transforms.formats import READERS, ReadOptions
    from tokenmill.transforms.read import ShardReader

    with pytest.raises(OSError) as raised:
        list(ShardReader({"src": ReadOptions()}).items("src", "jsonl", "/proc/self/mem"))
    assert raised.value.errno is not None
    with pytest.raises(OSError):
        list(READERS["text"]("/proc/self/mem", "src", ReadOptions()))
    corrupt = _write(tmp_path / "bad.jsonl.gz", gzip.compress(b'{"text": "x"}\n' * 50)[:-30] + b"\x00" * 30)
    failures = [r for r in ShardReader({"src": ReadOptions()}).items("src", "jsonl", corrupt) if hasattr(r, "kind")]
    assert [f.kind for f in failures] == ["corrupt_compression"]  # a content error is still counted


def test_an_unbalanced_ledger_makes_the_command_fail():
    from tokenmill.pipeline.ledger import assemble, data_loss, summary_lines

    balanced = assemble([(("input", "src", ""), 2), (("kept", "src", ""), 2)], ["src"])
    lost = assemble([(("input", "src", ""), 3), (("kept", "src", ""), 2)], ["src"])
    assert data_loss(balanced, 0.0) == [] and summary_lines(balanced)[-1] == "ledger balanced"
    assert data_loss(lost, 1.0) == ["src: the ledger does not balance: 3 documents in, 2 accounted for"]
    assert summary_lines(lost)[-1] == "LEDGER DOES NOT BALANCE"
