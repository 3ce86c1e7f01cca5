"""The planner: the chapter's worked numbers (and its two mistakes), the scaling-law optimum, corpus support."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from tokenmill.jobs.cli import cli
from tokenmill.jobs.hardware import device_peak, gpu_peak
from tokenmill.jobs.plan import (LAWS, SECONDS_PER_YEAR, corpus_support, gpu_seconds, make_plan,
                       params_for_ratio, training_flops)
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import PlanConfig, plan_config


def chapter_estimate_performance(params_billions, tokens_trillions):
    """pretraining.md's `estimate_performance`, verbatim."""
    A, B, alpha, beta, L_inf = 400, 0.25, 0.34, 0.28, 1.69
    N, D = params_billions * 1e9, tokens_trillions * 1e12
    return (A / N) ** alpha + (B * 1e12 / D) ** beta + L_inf


def test_chapter_compute_example_70b_on_2t_tokens():
    flops = training_flops(70e9, 2e12)
    assert flops == pytest.approx(8.4e23)
    seconds = gpu_seconds(flops, peak=3e15, mfu=1.0)  # the chapter's "~3×10¹⁵ FLOPS"
    assert seconds == pytest.approx(2.8e8)


def test_the_chapter_is_wrong_about_gpu_years_and_the_a100_peak():
    years = gpu_seconds(8.4e23, peak=3e15, mfu=1.0) / SECONDS_PER_YEAR
    assert years == pytest.approx(8.87, abs=0.01)  # not the 3,200 GPU-years it prints
    assert gpu_peak("a100") == 3.12e14  # dense bf16 peak; the chapter's 3e15 is ~10x too high
    assert gpu_seconds(8.4e23, gpu_peak("a100"), 1.0) / SECONDS_PER_YEAR == pytest.approx(85.3, abs=0.1)


@pytest.mark.parametrize("n, d, printed", [(7, 1, 2.372), (70, 1, 2.370), (70, 10, 2.048)])
def test_chapter_constant_set_reproduces_estimate_performance(n, d, printed):
    loss = LAWS["chapter"].loss(n * 1e9, d * 1e12)
    assert loss == pytest.approx(chapter_estimate_performance(n, d), rel=1e-12)
    assert round(loss, 3) == printed


def test_constant_sets_are_the_published_ones():
    c, e = LAWS["chinchilla"], LAWS["epoch2024"]
    assert (c.E, c.A, c.B, c.alpha, c.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    assert (e.E, e.A, e.B, e.alpha, e.beta) == (1.8172, 482.01, 2085.43, 0.3478, 0.3658)
    assert PlanConfig().constants == "epoch2024"


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("flops", [1e19, 5.76e23, 1e26])
def test_optimum_minimises_the_loss_along_the_iso_flop_curve(name, flops):
    law = LAWS[name]
    n_opt, d_opt = law.optimal(flops)
    assert training_flops(n_opt, d_opt) == pytest.approx(flops)
    grid = n_opt * np.logspace(-1, 1, 2001)
    losses = [law.loss(n, flops / (6 * n)) for n in grid]
    assert grid[int(np.argmin(losses))] == pytest.approx(n_opt, rel=0.01)


def test_the_refit_stays_near_twenty_tokens_per_parameter_where_the_rounded_fit_drifts():
    for flops in (1e21, 1e24, 1e26):
        n, d = LAWS["epoch2024"].optimal(flops)
        assert 15 < d / n < 35
    n, d = LAWS["chinchilla"].optimal(1e26)
    assert d / n > 100


def test_fixed_tokens_per_parameter_mode():
    n, d = params_for_ratio(5.76e23, 20.0)
    assert d == pytest.approx(20 * n) and 6 * n * d == pytest.approx(5.76e23)
    plan = make_plan(PlanConfig(tokens_per_param=20.0), flops=5.76e23)
    assert plan.mode == "20-tokens-per-param" and plan.tokens_per_param == pytest.approx(20.0)


def test_gpu_budget_becomes_flops_time_and_cost():
    cfg = PlanConfig(gpu="h100", mfu=0.5, price_per_gpu_hour=2.0)
    plan = make_plan(cfg, gpus=64, hours=24)
    assert plan.flops == pytest.approx(64 * 24 * 3600 * 989e12 * 0.5)
    assert plan.gpu_hours == pytest.approx(64 * 24)
    assert plan.wall_clock_hours == pytest.approx(24)
    assert plan.cost == pytest.approx(64 * 24 * 2.0)


def test_device_names_map_to_peaks():
    assert device_peak("NVIDIA H100 80GB HBM3") == 989e12
    assert device_peak("NVIDIA H100 PCIe") == 756e12
    assert device_peak("NVIDIA A100-SXM4-80GB") == 312e12
    assert device_peak("Tesla T4") is None


# The shape `tokenmill pack` writes (pipeline/pack.py), trimmed to what the planner reads.
MANIFEST = {
    "mixture": {"asked": {"books": 0.2, "web": 0.6, "wiki": 0.2},
                "delivered": {"books": 0.2, "web": 0.6, "wiki": 0.2}},
    "sources": {
        "web": {"tokens_available": 1.0e9, "tokens_used": 6.0e8, "epoch_cap": 2.0},
        "books": {"tokens_available": 1.0e8, "tokens_used": 2.0e8, "epoch_cap": 4.0},
        "wiki": {"tokens_available": 5.0e7, "tokens_used": 2.0e8, "epoch_cap": 6.0},
    },
}


def test_corpus_support_per_source_under_the_mixture():
    rows = {r.source: r for r in corpus_support(MANIFEST, tokens=2.0e9, caps={})}
    assert rows["web"].weight == pytest.approx(0.6) and rows["web"].epochs == pytest.approx(1.2)
    assert rows["books"].epochs == pytest.approx(4.0) and rows["books"].within_cap
    assert rows["wiki"].epochs == pytest.approx(8.0) and not rows["wiki"].within_cap
    assert rows["wiki"].epoch_cap == 6.0


def test_plan_caps_override_the_packers_and_shares_fall_back_to_tokens_used():
    manifest = {"sources": {name: {k: v for k, v in info.items() if k != "epoch_cap"}
                            for name, info in MANIFEST["sources"].items()}}
    rows = {r.source: r for r in corpus_support(manifest, 2.0e9, {"wiki": 10.0, "default": 3.0})}
    assert rows["web"].weight == pytest.approx(0.6)  # 6e8 of the 1e9 tokens used
    assert rows["wiki"].within_cap and rows["wiki"].epoch_cap == 10.0
    assert rows["books"].epoch_cap == 3.0


def test_a_manifest_without_source_counts_is_a_clear_error():
    with pytest.raises(ValueError, match="no per-source token counts"):
        corpus_support({"shards": []}, 1e9, {"default": 4.0})


def test_cli_table_and_json(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    runner = CliRunner()
    table = runner.invoke(cli, ["plan", "--params", "70e9", "--tokens", "2e12", "--peak-flops", "3e15",
                                "--mfu", "1", "--manifest", str(manifest)])
    assert table.exit_code == 0, table.output
    assert "8.400e+23" in table.output and "2.800e+08 GPU-s" in table.output
    assert "8.87 GPU-years" in table.output
    assert "epoch cap broken for books, web, wiki" in table.output
    out = runner.invoke(cli, ["plan", "--flops", "1e21", "--json"])
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    assert plan["constants"] == "epoch2024" and plan["mode"] == "compute-optimal"
    assert plan["predicted_loss"] == pytest.approx(LAWS["epoch2024"].loss(plan["params"], plan["tokens"]))
    assert math.isclose(6 * plan["params"] * plan["tokens"], 1e21)


def test_cli_reads_the_plan_section_and_reports_bad_input_in_one_line(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("plan:\n  constants: chapter\n  gpu: a100\n")
    out = CliRunner().invoke(cli, ["plan", "--config", str(config), "--params", "7e9",
                                   "--tokens", "1e12", "--json"])
    assert out.exit_code == 0, out.output
    assert round(json.loads(out.output)["predicted_loss"], 3) == 2.372
    bad = CliRunner().invoke(cli, ["plan", "--gpus", "8"])
    assert bad.exit_code == 2 and "give a budget" in bad.output
    negative = CliRunner().invoke(cli, ["plan", "--flops", "-1"])
    assert negative.exit_code == 2 and "not in the range x>0" in negative.output
    with pytest.raises(ConfigError, match=r"^run.yaml: plan: mfu: must be in \(0, 1\], got 2.0$"):
        plan_config({"mfu": 2}, "run.yaml: plan")
