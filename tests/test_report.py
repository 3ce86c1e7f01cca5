"""`tokenmill report`: the page is self-contained, says what the ledger says, and renders in a real
browser (headless Debian Chromium through chromedriver)."""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from tokenmill.jobs.report.charts import fmt, nice_ticks
from tokenmill.jobs.report.page import stream_histogram

REPO = Path(__file__).resolve().parents[1]


def tokenmill(*args):
    result = subprocess.run([sys.executable, "-m", "tokenmill", *args], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def curated(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    tokenmill("curate", "--output", str(out), "--keep-rejected",
              "--source", f"web=warc:{corpus}/web/*.warc.gz",
              "--source", f"bulk=jsonl:{corpus}/web-bulk/dclm_annotated_*.jsonl.gz",
              "--source", f"c4=jsonl:{corpus}/web-bulk/olmo_c4-sample.0*.jsonl.gz")
    tokenmill("tokenizer", "train", "--input", str(out / "curated"), "--output", str(out / "tokenizer.json"),
              "--vocab-size", "1000", "--sample-bytes", "500000")
    tokenmill("pack", "--curated", str(out / "curated"), "--tokenizer", str(out / "tokenizer.json"),
              "--output", str(out / "tokens"), "--seq-len", "127", "--mixture", "bulk=0.6,web=0.2,c4=0.2")
    return out


@pytest.fixture(scope="module")
def run(curated):
    """A short real training run on the packed tokens: its metrics.jsonl gives the curves."""
    folder = curated.parent / "run"
    tokenmill("train", "--data", str(curated / "tokens"), "--out", str(folder), "--model", "tiny", "--steps", "8",
              "--device", "cpu")
    return folder


@pytest.fixture(scope="module")
def report(curated, run):
    result = tokenmill("report", str(curated), "--run", str(run))
    page = curated / "report.html"
    assert f"report → {page}" in result.stdout
    return page


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "install Debian's chromium and chromium-driver (see .ci/run)"
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,1200"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


CHARTS_SCRIPT = """
return [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('.mark')].filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
  return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height, marks: marks.length,
          thresholds: svg.querySelectorAll('.threshold').length};
});
"""


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_report_renders_its_charts_in_chromium(report, browser, tmp_path):
    browser.get(report.as_uri())
    assert browser.title.startswith("tokenmill report")
    charts = {c["label"]: c for c in browser.execute_script(CHARTS_SCRIPT)}
    expected = {"funnel of web", "funnel of bulk", "funnel of c4", "removal reasons of web",
                "languages of kept documents", "languages of removed documents", "histogram of lang_score",
                "histogram of char_count", "histogram of words_per_char", "exact-dedup cluster sizes",
                "tokens available per source", "tokens used in training per source", "epochs per source",
                "mixture along the training order", "training loss", "learning rate", "gradient norm",
                "throughput"}
    assert expected <= set(charts)
    for label, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 20, label
        assert chart["marks"] > 0, label
    for signal in ("lang_score", "char_count", "words_per_char"):
        assert charts[f"histogram of {signal}"]["thresholds"] >= 1
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    width, height = png_size(screenshot.read_bytes())
    assert width >= 800 and height > 2000  # the whole page, not just the first screen


def test_the_report_is_self_contained_and_agrees_with_the_ledger(report, curated):
    html = report.read_text()
    assert not re.search(r'(src|href)="(?!#)', html)  # no image, script, style or link to fetch
    assert "<script" not in html
    ledger = json.loads((curated / "ledger.json").read_text())
    for source, n in ledger["input"].items():
        kept = ledger["kept"][source]
        assert f"<td>{source}</td><td>{n:,}</td><td>{kept:,}</td>" in html
        for key, count in ledger["removed"][source].items():
            assert f">{key}</text>" in html and f">{fmt(count)}</text>" in html
    assert "The ledger balances" in html
    manifest = json.loads((curated / "tokens" / "manifest.json").read_text())
    for source, info in manifest["sources"].items():
        assert f">{fmt(info['tokens_used'])}</text>" in html
    assert f"{fmt(manifest['total_tokens'])} tokens in" in html


def test_a_run_folder_without_a_ledger_is_one_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tokenmill", "report", str(tmp_path)], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode != 0
    assert f"Error: {tmp_path}: no ledger.json here" in result.stderr
    assert "Traceback" not in result.stderr


def test_training_curves_follow_the_runs_metrics(report, run):
    html = report.read_text()
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "loss" in line]
    assert f"{len({r['step'] for r in steps})} logged steps" in html
    loss_chart = re.search(r'<svg[^>]*aria-label="training loss".*?</svg>', html).group()
    points = re.search(r'<polyline class="mark" points="([^"]+)"', loss_chart).group(1).split()
    assert len(points) == len([r for r in steps if "loss" in r])


def test_histograms_use_log_bins_for_heavy_tails_and_count_every_value(curated):
    files = sorted((curated / "curated").glob("*/*.parquet")) + sorted((curated / "rejected").glob("*/*.parquet"))
    chars = stream_histogram(files, "char_count")
    assert chars.log_x and chars.edges[0] > 0 and len(chars.counts) == len(chars.edges) - 1
    assert sum(chars.counts) == chars.n and not chars.constant
    scores = stream_histogram(files, "lang_score")
    assert not scores.log_x and 0 <= scores.edges[0] and scores.edges[-1] <= 1 and sum(scores.counts) == scores.n


def test_tick_values_are_round_and_cover_the_range():
    assert nice_ticks(0, 1378) == [0, 500, 1000]
    assert nice_ticks(0.05, 0.3)[0] == pytest.approx(0.05) and nice_ticks(0.05, 0.3)[-1] == pytest.approx(0.3)
    assert [fmt(v) for v in (1000, 25000, 1234567, 0.0421)] == ["1,000", "25k", "1.23M", "0.0421"]
