"""`tokenmill report`: the page is self-contained, says what the ledger says, shows what the run card
and the run folder hold without flags, and renders in a real browser (headless Debian Chromium through
chromedriver) with every label inside its chart."""
import base64
import json
import re
import shutil
import struct
import subprocess
import sys
from html import escape, unescape

import pyarrow.parquet as pq
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from conftest import REPO, tokenmill
from tokenmill.jobs.report.charts import Bars, fmt, hbars, histogram, nice_ticks
from tokenmill.jobs.report.page import EXAMPLE_CHARS, RunOutput, histogram_of, values
from tokenmill.pipeline.config import Config


@pytest.fixture(scope="module")
def report(sample_run):
    """The page `tokenmill run` wrote at its end."""
    out, _ = sample_run
    return out / "report.html"


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
  const outside = [...svg.querySelectorAll('text')].filter(t => { const b = t.getBoundingClientRect();
    return b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5; });
  return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height, marks: marks.length,
          thresholds: svg.querySelectorAll('.threshold').length, outside: outside.map(t => t.textContent),
          fills: [...new Set([...svg.querySelectorAll('rect.mark')].map(r => r.getAttribute('fill')))]};
});
"""


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_report_renders_its_charts_in_chromium(report, browser, tmp_path):
    browser.get(report.as_uri())
    assert browser.title.startswith("tokenmill report")
    charts = {c["label"]: c for c in browser.execute_script(CHARTS_SCRIPT)}
    expected = {"funnel of web", "funnel of docs", "removal reasons of web", "removal reasons of docs",
                "languages of kept documents", "languages of removed documents", "histogram of lang_score",
                "histogram of char_count", "histogram of alpha_words", "exact-dedup cluster sizes",
                "tokens available per source", "tokens used in training per source", "epochs per source",
                "mixture along the training order", "training loss", "learning rate", "gradient norm",
                "throughput"}
    assert expected <= set(charts)
    for label, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 20, label
        assert chart["marks"] > 0, label
        assert chart["outside"] == [], label  # no label runs off its chart
    for signal in ("lang_score", "char_count", "alpha_words"):
        assert charts[f"histogram of {signal}"]["thresholds"] >= 1
    # langid removes documents of every score range: kept and removed stack in two colours
    assert len(charts["histogram of lang_score"]["fills"]) == 2
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    width, height = png_size(screenshot.read_bytes())
    assert width >= 800 and height > 2000  # the whole page, not just the first screen


def test_the_report_is_self_contained_and_agrees_with_the_ledger(report, sample_run):
    out, _ = sample_run
    html = report.read_text()
    assert not re.search(r'(src|href)="(?!#)', html)  # no image, script, style or link to fetch
    assert "<script" not in html
    ledger = json.loads((out / "ledger.json").read_text())
    for source, n in ledger["input"].items():
        kept = ledger["kept"][source]
        assert f"<td>{source}</td><td>{n:,}</td><td>{kept:,}</td>" in html
        for key, count in ledger["removed"][source].items():
            assert f">{key}</text>" in html and f">{fmt(count)}</text>" in html
    assert "The ledger balances" in html
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    for source, info in manifest["sources"].items():
        assert f">{fmt(info['tokens_used'])}</text>" in html
    assert f"{fmt(manifest['total_tokens'])} tokens in" in html


def test_each_removal_reason_shows_its_first_documents(report, sample_run):
    out, _ = sample_run
    section = report.read_text().split('<section id="examples">')[1].split("</section>")[0]
    rejected = pq.read_table(out / "rejected", columns=["source", "stage", "reason", "id", "text"]).to_pylist()
    ledger = json.loads((out / "ledger.json").read_text())
    for source, reasons in ledger["removed"].items():
        for key in reasons:
            assert f"<h4>{escape(key)} " in section
            assert any(f"<code>{escape(row['id'])}</code><blockquote>{escape(row['text'][:EXAMPLE_CHARS])}" in section
                       for row in rejected if (row["source"], f"{row['stage']}/{row['reason']}") == (source, key))
    texts = [unescape(text) for text in re.findall(r"<blockquote>(.*?)</blockquote>", section, flags=re.S)]
    assert texts and all(len(text.removesuffix("…")) <= EXAMPLE_CHARS for text in texts)


def test_training_curves_follow_the_runs_metrics_with_the_eval_loss(report, sample_run):
    out, _ = sample_run
    html = report.read_text()
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r.get("loss") is not None]
    assert f"{len({r['step'] for r in rows if 'step' in r})} logged steps" in html
    loss_chart = re.search(r'<svg[^>]*aria-label="training loss".*?</svg>', html).group()
    lines = re.findall(r'<polyline class="mark" points="([^"]*)"', loss_chart)
    assert len(lines[0].split()) == len(steps)
    evals = [r for r in rows if "eval_loss" in r]
    assert evals and ">eval_loss</text>" in loss_chart
    assert len(lines[1].split()) == len(evals)


def test_without_flags_the_report_takes_the_config_from_the_run_card_and_the_run_folder(sample_run):
    out, _ = sample_run
    result = tokenmill("report", str(out))
    assert f"report → {out / 'report.html'}" in result.stdout
    html = (out / "report.html").read_text()
    assert f"as {out / 'run.json'} records it" in html
    assert 'aria-label="training loss"' in html
    # the sample's langid threshold, read back from the card
    assert ">min 0.65</text>" in html


def test_a_run_folder_without_a_ledger_is_one_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tokenmill", "report", str(tmp_path)], capture_output=True,
                            text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode != 0
    assert f"Error: {tmp_path}: no ledger.json here" in result.stderr
    assert "Traceback" not in result.stderr


def test_histograms_use_log_bins_for_heavy_tails_and_count_every_value(sample_run):
    """The sample's output is smaller than the report's sample: every row is in it."""
    out, _ = sample_run
    run = RunOutput(str(out), json.loads((out / "ledger.json").read_text()), Config(), "", None)
    groups = {"kept": run.kept_rows, "removed": run.removed_rows}
    chars = histogram_of({group: values(table, "char_count") for group, table in groups.items()})
    assert chars.log_x and chars.edges[0] > 0 and len(chars.counts) == len(chars.edges) - 1
    assert sum(chars.counts) == chars.n and not chars.constant
    kept_rows = sum(pq.read_metadata(path).num_rows for path in (out / "curated").glob("*/*.parquet"))
    assert sum(chars.parts["kept"]) == kept_rows == run.kept.documents and sum(chars.parts["removed"]) > 0
    scores = histogram_of({group: values(table, "lang_score") for group, table in groups.items()})
    assert not scores.log_x and 0 <= scores.edges[0] and scores.edges[-1] <= 1 and sum(scores.counts) == scores.n


def x_positions(svg: str, css_class: str) -> list[float]:
    return [float(x) for x in re.findall(rf'<line class="{css_class}" x1="([\d.]+)"', svg)]


def tick_x(svg: str, label: str) -> float:
    return float(re.search(rf'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">{re.escape(label)}</text>', svg).group(1))


def test_a_threshold_near_the_data_widens_the_axis_and_sits_at_its_value():
    bars = [Bars("kept", [5, 3, 1, 1, 0], "#3366cc")]
    svg = histogram([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], bars, "bullet_lines", thresholds=[(0.9, "max 0.9")])
    line = x_positions(svg, "threshold")[0]
    assert line == pytest.approx(700.0)  # the plot's right end, where the axis now ends
    assert line > tick_x(svg, "0.8") > tick_x(svg, "0.4")  # not on the 0.5 tick: the axis runs on to 0.9
    assert 'text-anchor="end">max 0.9</text>' in svg  # near the right edge the caption reads leftwards


def test_a_threshold_far_beyond_the_data_is_a_caption_at_the_edge_not_a_line():
    bars = [Bars("kept", [5, 3], "#3366cc"), Bars("removed", [1, 0], "#dc6c1f")]
    svg = histogram([0.0, 0.01, 0.02], bars, "ellipsis_lines", thresholds=[(0.3, "max 0.3"), (0.0, "min 0")])
    assert x_positions(svg, "threshold") == [pytest.approx(56.0)]  # min 0 is on the axis
    assert "max 0.3, off the scale →" in svg
    assert 'fill="#dc6c1f"' in svg and ">removed</text>" in svg and ">kept</text>" in svg


def test_long_reason_names_widen_the_label_column_and_are_never_cut_at_the_front():
    name = "quality/gopher_duplicated_10gram"
    svg = hbars([(name, 12), ("langid/low_confidence", 3)], "reasons")
    assert f"<title>{name}</title>{name}</text>" in svg
    left = float(re.search(r'<rect class="mark" x="([\d.]+)"', svg).group(1))
    assert left >= 7 * len(name)
    very_long = "x" * 200
    cut = hbars([(very_long, 1)], "reasons")
    assert f"<title>{very_long}</title>" in cut and "…</text>" in cut


def test_tick_values_are_round_and_cover_the_range():
    assert nice_ticks(0, 1378) == [0, 500, 1000]
    assert nice_ticks(0.05, 0.3)[0] == pytest.approx(0.05) and nice_ticks(0.05, 0.3)[-1] == pytest.approx(0.3)
    assert [fmt(v) for v in (1000, 25000, 1234567, 0.0421)] == ["1,000", "25k", "1.23M", "0.0421"]


def test_the_report_reads_and_writes_an_output_on_an_object_store(sample_run):
    """The same output on memfs:// (where `open()` cannot reach): the same page, its paths aside."""
    from tests.memfs import MemoryFileSystem
    from tokenmill.jobs.report.page import build_report

    out, _ = sample_run
    remote = "memfs://report/out"
    local_page = build_report(str(out))
    for path in out.rglob("*"):
        if path.is_file() and path.name != "report.html":
            MemoryFileSystem.objects[f"{remote}/{path.relative_to(out)}"] = path.read_bytes()
    try:
        assert build_report(remote) == f"{remote}/report.html"
        html = MemoryFileSystem.objects[f"{remote}/report.html"].decode("utf-8")
        assert html == open(local_page, encoding="utf-8").read().replace(str(out), remote)
    finally:
        MemoryFileSystem.objects.clear()
