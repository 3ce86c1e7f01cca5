"""The `tokenmill` command answers at once (`--help`, `plan`, `eval --help` and `ablate --help` import
neither Beam, presidio, torch nor pyarrow), keeps libraries' chatter out of its log, and its summary says
what it leaves out."""
import subprocess
import sys

import pytest

from conftest import REPO
from tokenmill.pipeline.ledger import SUMMARY_REASONS, summary_lines

HEAVY = ("apache_beam", "presidio_analyzer", "torch", "pyarrow")


@pytest.mark.parametrize("args", [["--help"], ["plan", "--flops", "1e21"], ["eval", "--help"], ["ablate", "--help"]])
def test_light_commands_import_no_heavy_library(args):
    code = ("import sys\nfrom tokenmill.jobs.cli import cli\n"
            f"try:\n    cli({args!r})\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_the_log_holds_progress_and_no_library_chatter(sample_run):
    _, result = sample_run
    assert "tokenmill.read read " in result.stderr  # progress lines, unchanged
    for chatter in ("apitools not found", "Loaded recognizer", "Loaded no-op NLP engine", "Discarding unparseable"):
        assert chatter not in result.stderr, chatter


def test_the_summary_says_how_many_more_reasons_there_are():
    reasons = {f"quality/rule_{i}": 10 - i for i in range(SUMMARY_REASONS + 2)}
    ledger = {"input": {"web": 100}, "kept": {"web": 55}, "removed": {"web": reasons},
              "errors": {"web": {"read/corrupt_gzip": 1}}, "balanced": True}
    line, balanced = summary_lines(ledger)
    assert line == ("web: 100 in → 55 kept (55.0%); quality/rule_0 10, quality/rule_1 9, quality/rule_2 8, "
                    "quality/rule_3 7 and 3 more reasons (12 documents; see ledger.json)")
    assert balanced == "ledger balanced"
    few = {**ledger, "removed": {"web": {"langid/low_confidence": 44}}, "errors": {"web": {}}}
    assert summary_lines(few)[0] == "web: 100 in → 55 kept (55.0%); langid/low_confidence 44"
