"""`tokenmill plan`: compute-optimal model size and tokens for a budget, and whether the corpus has them.

The loss model is Chinchilla's parametric fit (Hoffmann et al. 2022, eq. 2),
L(N, D) = E + A/N^α + B/D^β, minimised under the training cost C ≈ 6·N·D (Kaplan et al. 2020):
    N* = G·(C/6)^(β/(α+β)),  D* = (C/6)/N*,  G = (αA / βB)^(1/(α+β)).
Three constant sets are offered; the Epoch AI refit is the default because the paper's rounded
constants drift from its own optimum at large budgets (Besiroglu et al. 2024).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import click

from tokenmill.jobs.hardware import PEAK_BF16_FLOPS, gpu_peak
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import PlanConfig, plan_config

SECONDS_PER_YEAR = 365.25 * 24 * 3600


@dataclass(frozen=True)
class ScalingLaw:
    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, params: float, tokens: float) -> float:
        """Predicted loss in nats per token of a model of `params` trained on `tokens`."""
        return self.E + self.A / params**self.alpha + self.B / tokens**self.beta

    def optimal(self, flops: float) -> tuple[float, float]:
        """(N, D) minimising the loss under 6·N·D = `flops`."""
        a, b = self.alpha, self.beta
        g = (a * self.A / (b * self.B)) ** (1.0 / (a + b))
        params = g * (flops / 6.0) ** (b / (a + b))
        return params, flops / (6.0 * params)


LAWS: dict[str, ScalingLaw] = {
    "epoch2024": ScalingLaw("epoch2024", 1.8172, 482.01, 2085.43, 0.3478, 0.3658,
                            "Besiroglu et al. 2024, Chinchilla scaling: a replication attempt"),
    "chinchilla": ScalingLaw("chinchilla", 1.69, 406.4, 410.7, 0.34, 0.28,
                             "Hoffmann et al. 2022, approach 3, rounded"),
    # The chapter's `estimate_performance`: (400/N)^0.34 + (0.25e12/D)^0.28 + 1.69, which is the
    # same law with A = 400^0.34 and B = (0.25e12)^0.28.
    "chapter": ScalingLaw("chapter", 1.69, 400.0**0.34, (0.25e12) ** 0.28, 0.34, 0.28,
                          "pretraining.md, estimate_performance"),
}


def training_flops(params: float, tokens: float) -> float:
    """C ≈ 6·N·D: 2 FLOPs per parameter per token forward, 4 backward (Kaplan et al. 2020)."""
    return 6.0 * params * tokens


def gpu_seconds(flops: float, peak: float, mfu: float) -> float:
    """Seconds of one accelerator with `peak` FLOP/s running at utilisation `mfu`."""
    return flops / (peak * mfu)


def params_for_ratio(flops: float, tokens_per_param: float) -> tuple[float, float]:
    """(N, D) with D = r·N spending `flops`: 6·r·N² = C. Chinchilla's rule of thumb is r ≈ 20."""
    params = math.sqrt(flops / (6.0 * tokens_per_param))
    return params, tokens_per_param * params


@dataclass(frozen=True)
class SourceSupport:
    source: str
    weight: float
    tokens_needed: float
    tokens_available: float
    epochs: float
    epoch_cap: float

    @property
    def within_cap(self) -> bool:
        return self.epochs <= self.epoch_cap


def corpus_support(manifest: Mapping[str, Any], tokens: float,
                   caps: Mapping[str, float]) -> list[SourceSupport]:
    """Per source: the tokens the plan needs under the manifest's mixture against the tokens it has.

    A source's share is the mixture the packer was asked for (`mixture.asked`), else its share of
    the tokens it delivered (`sources.<name>.tokens_used`); what it has is its packed tokens
    before any repetition (`tokens_available`). Its epoch cap is `caps[name]` if given, else the
    cap the packer applied (`sources.<name>.epoch_cap`), else `caps["default"]`, else 1.
    """
    sources = manifest.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ValueError("the manifest has no per-source token counts ('sources')")
    asked = (manifest.get("mixture") or {}).get("asked") or {}
    shares = {name: float(asked.get(name, 0.0)) for name in sources} if asked else \
        {name: float(info.get("tokens_used", 0)) for name, info in sources.items()}
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("the manifest gives neither a mixture nor tokens used per source")
    rows = []
    for name in sorted(sources):
        info = sources[name]
        available = float(info.get("tokens_available", 0))
        needed = shares[name] / total * tokens
        epochs = needed / available if available > 0 else math.inf if needed > 0 else 0.0
        cap = float(caps.get(name, info.get("epoch_cap", caps.get("default", 1.0))))
        rows.append(SourceSupport(name, shares[name] / total, needed, available, epochs, cap))
    return rows


@dataclass(frozen=True)
class Plan:
    constants: str
    mode: str
    flops: float
    params: float
    tokens: float
    tokens_per_param: float
    predicted_loss: float
    gpu: str
    peak_flops: float
    mfu: float
    gpu_seconds: float
    gpu_hours: float
    gpu_years: float
    gpus: Optional[int]
    wall_clock_hours: Optional[float]
    cost: Optional[float]


def make_plan(cfg: PlanConfig, *, flops: float | None = None, gpus: int | None = None,
              hours: float | None = None, params: float | None = None,
              tokens: float | None = None, peak: float | None = None) -> Plan:
    """A plan from a FLOP budget, or a GPU budget (gpus × hours at `cfg.mfu`), or a given N and D."""
    law = LAWS[cfg.constants]
    gpu = cfg.gpu if peak is None else "custom"
    peak = peak if peak is not None else gpu_peak(cfg.gpu)
    if params is not None and tokens is not None:
        mode, budget = "given", training_flops(params, tokens)
    else:
        if flops is None:
            if gpus is None or hours is None:
                raise ValueError("give a budget: --flops, or --gpus with --hours, or --params with --tokens")
            flops = gpus * hours * 3600.0 * peak * cfg.mfu
        budget = flops
        if params is not None:
            mode, tokens = "given-params", flops / (6.0 * params)
        elif tokens is not None:
            mode, params = "given-tokens", flops / (6.0 * tokens)
        elif cfg.tokens_per_param is not None:
            mode = f"{cfg.tokens_per_param:g}-tokens-per-param"
            params, tokens = params_for_ratio(flops, cfg.tokens_per_param)
        else:
            mode = "compute-optimal"
            params, tokens = law.optimal(flops)
    seconds = gpu_seconds(budget, peak, cfg.mfu)
    return Plan(
        constants=law.name, mode=mode, flops=budget, params=params, tokens=tokens,
        tokens_per_param=tokens / params, predicted_loss=law.loss(params, tokens),
        gpu=gpu, peak_flops=peak, mfu=cfg.mfu, gpu_seconds=seconds,
        gpu_hours=seconds / 3600.0, gpu_years=seconds / SECONDS_PER_YEAR, gpus=gpus,
        wall_clock_hours=seconds / 3600.0 / gpus if gpus else None,
        cost=seconds / 3600.0 * cfg.price_per_gpu_hour if cfg.price_per_gpu_hour else None)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


def render_table(plan: Plan, support: list[SourceSupport] | None) -> str:
    law = LAWS[plan.constants]
    lines = [
        f"scaling law        {law.name} ({law.source})",
        f"                   L = {law.E:g} + {law.A:.6g}/N^{law.alpha:g} + {law.B:.6g}/D^{law.beta:g}",
        f"mode               {plan.mode}",
        f"training FLOPs     {_fmt(plan.flops)}",
        f"parameters N       {_fmt(plan.params)}",
        f"tokens D           {_fmt(plan.tokens)}",
        f"tokens / param     {plan.tokens_per_param:.1f}",
        f"predicted loss     {plan.predicted_loss:.3f} nats/token",
        f"hardware           {plan.gpu}, peak {_fmt(plan.peak_flops)} FLOP/s at {plan.mfu:.0%} MFU",
        f"GPU time           {_fmt(plan.gpu_seconds)} GPU-s = {_fmt(plan.gpu_hours)} GPU-h"
        f" = {plan.gpu_years:.3g} GPU-years",
    ]
    if plan.wall_clock_hours is not None:
        lines.append(f"wall clock         {plan.wall_clock_hours:.1f} h on {plan.gpus} GPUs")
    if plan.cost is not None:
        lines.append(f"cost               {plan.cost:,.0f}")
    if support is not None:
        lines += ["", f"{'source':<16}{'weight':>8}{'needed':>12}{'available':>12}{'epochs':>9}{'cap':>6}  ok"]
        for row in support:
            lines.append(f"{row.source:<16}{row.weight:>8.3f}{_fmt(row.tokens_needed):>12}"
                         f"{_fmt(row.tokens_available):>12}{row.epochs:>9.2f}{row.epoch_cap:>6g}"
                         f"  {'yes' if row.within_cap else 'NO'}")
        broken = [row.source for row in support if not row.within_cap]
        lines.append("corpus supports the plan" if not broken
                     else f"corpus does NOT support the plan: epoch cap broken for {', '.join(broken)}")
    return "\n".join(lines)


def load_plan_config(path: str | None) -> PlanConfig:
    """The `plan:` section of the config file at `path` (the defaults without one)."""
    config = load_config(path)
    return plan_config(config.plan, f"{config.origin}: plan")


_POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command("plan")
@click.option("--flops", type=_POSITIVE, help="Compute budget in FLOPs (default: none; give it, --gpus with --hours, or --params with --tokens).")
@click.option("--gpus", type=click.IntRange(min=1), help="Number of GPUs (with --hours; default: none).")
@click.option("--hours", type=_POSITIVE, help="Hours on those GPUs (default: none).")
@click.option("--gpu", type=click.Choice(sorted(PEAK_BF16_FLOPS)), help="GPU type.")
@click.option("--mfu", type=click.FloatRange(min=0, max=1, min_open=True), help="Model FLOPs utilisation, 0-1.")
@click.option("--peak-flops", type=_POSITIVE, help="Override the GPU's peak FLOP/s (default: the GPU type's dense bf16 peak).")
@click.option("--params", type=_POSITIVE, help="Fix the parameter count N (default: the compute optimum).")
@click.option("--tokens", type=_POSITIVE, help="Fix the training tokens D (default: the compute optimum).")
@click.option("--constants", type=click.Choice(sorted(LAWS)), help="Scaling-law fit.")
@click.option("--tokens-per-param", type=_POSITIVE, help="Fixed D/N instead of the compute optimum (~20).")
@click.option("--price", type=_POSITIVE, help="Price per GPU-hour, for the cost line (null: no cost line).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="tokens/manifest.json: check the corpus has the tokens the plan needs (default: no check).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config whose `plan:` section sets the defaults (default: none, the built-in defaults).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plan_command(flops, gpus, hours, gpu, mfu, peak_flops, params, tokens, constants,
                 tokens_per_param, price, manifest, config_path, as_json) -> None:
    """Compute-optimal N and D for a budget, the predicted loss, GPU time, and corpus support."""
    try:
        cfg = load_plan_config(config_path)
        overrides = {"gpu": gpu, "mfu": mfu, "constants": constants,
                     "tokens_per_param": tokens_per_param, "price_per_gpu_hour": price}
        cfg = plan_config({**asdict(cfg), **{k: v for k, v in overrides.items() if v is not None}},
                          "plan")
        result = make_plan(cfg, flops=flops, gpus=gpus, hours=hours, params=params,
                           tokens=tokens, peak=peak_flops)
        support = None
        if manifest is not None:
            support = corpus_support(json.loads(manifest.read_text()), result.tokens, cfg.epoch_caps)
    except (ConfigError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    if as_json:
        payload: dict[str, Any] = asdict(result)
        if support is not None:
            payload["sources"] = [
                {**asdict(row), "epochs": row.epochs if math.isfinite(row.epochs) else None,
                 "within_cap": row.within_cap} for row in support]
            payload["supported"] = all(row.within_cap for row in support)
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
    else:
        click.echo(render_table(result, support))
