"""The training loop: streamed packed rows → GPT → AdamW, with checkpoints, rails and metrics.

One optimiser step sees `grad_accum` micro-batches of `batch_size` rows on every rank. Before a
step's update is applied the rails look at its loss and gradient norm; a spike or a non-finite
value rolls the run back to the newest checkpoint and skips the rows read since then (the
remedy PaLM used: restart before the spike and skip the offending batches; Chowdhery et al.
2022, section 5.1). Checkpoints hold everything a step depends on, so resuming from one
reproduces the losses of a run that never stopped.
"""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from tokenmill.jobs.hardware import device_peak
from tokenmill.jobs.run_card import run_card
from tokenmill.jobs.train import distributed
from tokenmill.jobs.train.checkpoint import (latest_checkpoint, load_checkpoint, rng_state, save_checkpoint,
                                   set_rng_state)
from tokenmill.jobs.train.data import TrainingData
from tokenmill.jobs.train.distributed import Context
from tokenmill.jobs.train.metrics import MetricsSink
from tokenmill.jobs.train.model import GPT, GPTConfig, pretraining_loss
from tokenmill.jobs.train.optim import make_optimizer, make_scheduler
from tokenmill.jobs.train.rails import Anomaly, LossRails
from tokenmill.pipeline.train_config import TrainConfig

# Config fields a checkpoint must agree on to be resumed exactly.
_RESUME_KEYS = ("model", "batch_size", "grad_accum", "seed", "eval_fraction")


class TrainingDiverged(RuntimeError):
    """More anomalies than `max_rollbacks` allows."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    loss: float | None
    eval_loss: float | None
    params: int
    tokens_per_step: int
    rollbacks: int
    interrupted: bool = False  # stopped by SIGTERM/SIGINT, with a checkpoint; run again to resume


def train(tokens_dir: str | Path, run_dir: str | Path, cfg: TrainConfig,
          stop_at: int | None = None) -> TrainResult:
    """Train on the packed shards in `tokens_dir` (a folder or a URI), writing checkpoints and
    metrics to the folder `run_dir`.

    A run folder that already holds checkpoints is resumed from its newest one. `stop_at` ends
    the run after that many steps (with a checkpoint) though the schedule runs to `cfg.steps`;
    a later call continues it. SIGTERM or SIGINT (a preempted pod, Ctrl-C) finishes the step
    under way, writes a checkpoint and returns with `interrupted` set. Under `torchrun` every
    rank calls this.
    """
    ctx = distributed.start(cfg.device)
    card = run_card("train", str(run_dir), cfg, [str(tokens_dir)],
                    {"device": str(ctx.device), "world_size": ctx.world_size})
    try:
        with card if ctx.is_main else contextlib.nullcontext(), _StopSignals() as signals:
            trainer = Trainer(str(tokens_dir), Path(run_dir), cfg, ctx, signals)
            try:
                result = trainer.run(stop_at)
            finally:
                if trainer.sink:
                    trainer.sink.close()
        distributed.barrier(ctx)  # no rank tears the group down while another still talks to it (gloo aborts that one)
        return result
    finally:
        distributed.stop(ctx)


class _StopSignals:
    """Turns SIGTERM and SIGINT into a request to stop after the current step (main thread only)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._request)
        return self

    def _request(self, signum, frame) -> None:
        if self.requested:  # asked twice: stop now, without the checkpoint
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    def __init__(self, tokens_dir: str, run_dir: Path, cfg: TrainConfig, ctx: Context,
                 signals: _StopSignals):
        self.cfg, self.ctx, self.run_dir, self.signals = cfg, ctx, run_dir, signals
        self.checkpoints = run_dir / "checkpoints"
        self.data = TrainingData(tokens_dir, cfg.eval_fraction, ctx.rank, ctx.world_size)
        torch.manual_seed(cfg.seed)
        shape = cfg.model
        self.model_cfg = GPTConfig.named(
            shape.size, self.data.vocab_size, self.data.seq_len, n_layer=shape.n_layer,
            n_head=shape.n_head, n_embd=shape.n_embd, dropout=shape.dropout, bias=shape.bias)
        self.model = GPT(self.model_cfg).to(ctx.device)
        torch.manual_seed(cfg.seed + ctx.rank)  # each rank draws its own dropout masks
        cuda = ctx.device.type == "cuda"
        self.optimizer = make_optimizer(self.model, cfg, fused=cuda)
        self.scheduler = make_scheduler(self.optimizer, cfg)
        self.net = torch.compile(self.model) if cfg.compile else self.model
        self.trainable = DistributedDataParallel(self.net, device_ids=[ctx.device] if cuda else None) \
            if ctx.distributed else self.net
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda \
            else contextlib.nullcontext
        self.rails = LossRails(cfg.spike_window, cfg.spike_threshold)
        self.step = 0
        self.rollbacks = 0
        self.rows_per_step = cfg.batch_size * cfg.grad_accum  # per rank
        self.tokens_per_step = self.rows_per_step * ctx.world_size * self.data.seq_len
        self.flops_per_token = self.model.flops_per_token()
        peak = cfg.peak_flops or (device_peak(torch.cuda.get_device_name(ctx.device)) if cuda else None)
        self.peak_flops = peak * ctx.world_size if peak else None
        self.sink = MetricsSink(run_dir, cfg.tensorboard) if ctx.is_main else None
        self._batches: Iterator[np.ndarray] = iter(())

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop_at: int | None) -> TrainResult:
        last = latest_checkpoint(self.checkpoints)
        if last is not None:
            self._restore(last)
            if self.sink:
                self.sink.resume_at(self.step, self.rollbacks)
            self._event({"event": "resume", "checkpoint": last.name})
        else:
            if self.sink:
                self.sink.resume_at(0, 0)
            self._batches = self.data.batches(self.cfg.batch_size)
            self._save()  # step 0: the first place to roll back to
        end = min(self.cfg.steps, stop_at) if stop_at is not None else self.cfg.steps
        if self.ctx.is_main:
            held_out = "" if self.data.has_eval else \
                "; no eval: a held-out slice needs two shards or more (pack.rows_per_shard)"
            print(f"[train] {self.model.num_params():,} parameters, {self.tokens_per_step:,} tokens a "
                  f"step, {self.ctx.world_size} process(es) on {self.ctx.device.type}; "
                  f"steps {self.step} to {end}{held_out}", file=sys.stderr, flush=True)
        loss = eval_loss = None
        saved_at = self.step
        interrupted = False
        while self.step < end and not interrupted:
            started = time.perf_counter()
            lr = self.scheduler.get_last_lr()[0]
            loss, grad_norm, interrupted = self._forward_backward()
            anomaly = self.rails.check(loss, grad_norm)
            if anomaly is not None:
                self._roll_back(anomaly)
                saved_at = self.step
                continue
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.rails.accept(loss)
            self.step += 1
            if self.step % self.cfg.log_every == 0:
                self._log_step(loss, lr, grad_norm, time.perf_counter() - started)
            if self.step % self.cfg.eval_every == 0 or self.step == end:
                eval_loss = self.evaluate()
            if self.step % self.cfg.checkpoint_every == 0:
                self._save()
                saved_at = self.step
        if interrupted:
            self._event({"event": "interrupted", "action": "checkpoint and stop"})
        if saved_at != self.step:
            self._save()
        return TrainResult(self.run_dir, self.step, loss, eval_loss, self.model.num_params(),
                           self.tokens_per_step, self.rollbacks, interrupted)

    def _next_rows(self) -> torch.Tensor:
        rows = torch.from_numpy(next(self._batches))
        if self.ctx.device.type == "cuda":
            return rows.pin_memory().to(self.ctx.device, non_blocking=True)
        return rows

    def _forward_backward(self) -> tuple[float, float, bool]:
        """Accumulate the gradient of one step: its mean loss over ranks, its gradient norm, and
        whether any rank was asked to stop (agreed in the same all-reduce as the loss)."""
        accum = self.cfg.grad_accum
        total = torch.zeros((), device=self.ctx.device)
        for micro in range(accum):
            rows = self._next_rows()
            last = micro == accum - 1
            sync = contextlib.nullcontext() if last or not self.ctx.distributed \
                else self.trainable.no_sync()
            with sync:
                with self.autocast():
                    loss = pretraining_loss(self.trainable, rows)
                (loss / accum).backward()
            total += loss.detach()
        stop = torch.tensor(float(self.signals.requested), device=self.ctx.device)
        mean, stop = distributed.mean_across(self.ctx, torch.stack([total / accum, stop])).tolist()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        return mean, float(grad_norm), stop > 0

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean loss over the held-out rows (the same rows every time), or None without any."""
        if not self.data.has_eval:
            return None
        self.net.eval()
        total, count = torch.zeros((), device=self.ctx.device), 0
        for batch in self.data.eval_batches(self.cfg.batch_size, self.cfg.eval_batches):
            with self.autocast():
                total += pretraining_loss(self.net, torch.from_numpy(batch).to(self.ctx.device))
            count += 1
        self.net.train()
        eval_loss = float(distributed.mean_across(self.ctx, total / max(count, 1)))
        if self.sink:
            self.sink.log({"step": self.step, "eval_loss": eval_loss})
        return eval_loss

    def _log_step(self, loss: float, lr: float, grad_norm: float, seconds: float) -> None:
        if not self.sink:
            return
        tokens_per_s = self.tokens_per_step / seconds
        record = {"step": self.step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                  "tokens_per_s": round(tokens_per_s, 1)}
        if self.peak_flops:
            record["mfu"] = round(self.flops_per_token * tokens_per_s / self.peak_flops, 4)
        self.sink.log(record)

    # -- rails --------------------------------------------------------------------------------

    def _roll_back(self, anomaly: Anomaly) -> None:
        """Return to the newest checkpoint and skip the rows read since it, the bad step's included."""
        self.optimizer.zero_grad(set_to_none=True)
        self.rollbacks += 1
        record = {"event": anomaly.kind, **_finite_or_none(dataclasses.asdict(anomaly)),
                  "rollbacks": self.rollbacks}
        del record["kind"]
        if self.rollbacks > self.cfg.max_rollbacks:
            self._event({**record, "action": "stop"})
            raise TrainingDiverged(
                f"step {self.step}: {anomaly.kind} (loss {anomaly.loss:.4g}) after "
                f"{self.cfg.max_rollbacks} rollbacks; raise train.max_rollbacks or lower train.lr")
        last = latest_checkpoint(self.checkpoints)
        bad_step, rollbacks = self.step, self.rollbacks
        self._restore(last)
        self.rollbacks = rollbacks
        skipped = (bad_step - self.step + 1) * self.rows_per_step
        self.data.skip(skipped)
        self._batches = self.data.batches(self.cfg.batch_size)
        self._event({**record, "step": bad_step, "action": "rollback", "to_step": self.step,
                     "skipped_rows": skipped * self.ctx.world_size})
        if self.sink:
            self.sink.metrics.truncate(lambda r: r["step"] <= self.step)

    def _event(self, record: dict) -> None:
        if self.sink:
            entry = {"step": self.step, **record}
            self.sink.event(entry)
            print(f"[train] {entry}", file=sys.stderr, flush=True)

    # -- checkpoints --------------------------------------------------------------------------

    def _save(self) -> None:
        rng = distributed.gather(self.ctx, rng_state(self.ctx.device))
        data = distributed.gather(self.ctx, self.data.state_dict())
        if self.ctx.is_main:
            state = {
                "step": self.step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng,
                "data": data,
                "rails": self.rails.state_dict(),
                "rollbacks": self.rollbacks,
                "world_size": self.ctx.world_size,
                "config": dataclasses.asdict(self.cfg),
            }
            save_checkpoint(self.checkpoints, self.step, state, self.cfg.keep_checkpoints)
        distributed.barrier(self.ctx)

    def _restore(self, path: Path) -> None:
        state = load_checkpoint(path)
        self._check_compatible(state, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"][self.ctx.rank], self.ctx.device)
        self.data.load_state_dict(state["data"][self.ctx.rank])
        self._batches = self.data.batches(self.cfg.batch_size)
        self.rails.load_state_dict(state["rails"])
        self.rollbacks = state["rollbacks"]
        self.step = state["step"]

    def _check_compatible(self, state: dict, path: Path) -> None:
        saved, now = state["config"], dataclasses.asdict(self.cfg)
        for key in _RESUME_KEYS:
            if saved[key] != now[key]:
                raise ValueError(f"{path}: train.{key} was {saved[key]!r} in this run, now "
                                 f"{now[key]!r}; use a new run folder or the old setting")
        if state["world_size"] != self.ctx.world_size:
            raise ValueError(f"{path}: written by {state['world_size']} processes, resumed by "
                             f"{self.ctx.world_size}; resume with the same number")


def _finite_or_none(record: dict) -> dict:
    return {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in record.items()}
