"""The training loop: streamed packed rows → GPT → AdamW, with checkpoints, rails and metrics.

One optimiser step sees `grad_accum` micro-batches of `batch_size` rows on every rank. The
losses and gradient norms stay on the device and the rails look at them every `log_every` steps
(and before every evaluation and checkpoint), in one host synchronisation; the first spike or
non-finite value rolls the run back to the newest checkpoint and skips the rows read from it up
to the bad step (the remedy PaLM used: restart before the spike and skip the offending batches;
Chowdhery et al. 2022, section 5.1). As a checkpoint is only written after its steps passed the
rails, undoing the steps after a bad one costs nothing more than the rollback itself.
Checkpoints hold everything a step depends on, so resuming from one reproduces the losses of a
run that never stopped; batches are read on a background thread.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

from tokenmill.jobs.hardware import device_peak
from tokenmill.jobs.run_card import run_card
from tokenmill.jobs.train import distributed
from tokenmill.jobs.train.checkpoint import (latest_checkpoint, load_checkpoint, load_shards, rng_state,
                                             save_checkpoint, save_sharded_checkpoint, set_rng_state)
from tokenmill.jobs.train.data import Prefetcher, TrainingData
from tokenmill.jobs.train.distributed import Context
from tokenmill.jobs.train.metrics import MetricsSink
from tokenmill.jobs.train.model import GPT, GPTConfig, pretraining_loss
from tokenmill.jobs.train.optim import make_optimizer, make_scheduler
from tokenmill.jobs.train.rails import Anomaly, LossRails, TrainingDiverged
from tokenmill.pipeline.train_config import TrainConfig

# Config fields a checkpoint must agree on to be resumed exactly (and the global batch, below).
_RESUME_KEYS = ("model", "seed", "eval_fraction", "parallel")


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
        self.checkpoints = run_dir / "checkpoints"
        resume = latest_checkpoint(self.checkpoints)
        saved = load_checkpoint(resume) if resume is not None else {}
        saved_data = saved.get("data", {})
        if not isinstance(saved_data, dict):
            raise ValueError(f"{resume}: written by an earlier version of the trainer; use a new run folder")
        if resume is not None:
            cfg = _keep_global_batch(cfg, saved, ctx.world_size, resume)
        self.cfg, self.ctx, self.run_dir, self.signals = cfg, ctx, run_dir, signals
        self.data = TrainingData(tokens_dir, cfg.eval_fraction, ctx.rank, ctx.world_size,
                                 lanes=saved_data.get("lanes", cfg.data_lanes), span=saved_data.get("span"))
        torch.manual_seed(cfg.seed)
        shape = cfg.model
        self.model_cfg = GPTConfig.named(
            shape.size, self.data.vocab_size, self.data.seq_len, n_layer=shape.n_layer,
            n_head=shape.n_head, n_embd=shape.n_embd, dropout=shape.dropout, bias=shape.bias)
        self.model = GPT(self.model_cfg).to(ctx.device)
        self.model.checkpoint_blocks = cfg.activation_checkpointing
        self.params = self.model.num_params()  # before sharding, which leaves each rank a part
        self.flops_per_token = self.model.flops_per_token()
        torch.manual_seed(cfg.seed + ctx.rank)  # each rank draws its own dropout masks
        cuda = ctx.device.type == "cuda"
        self.sharded = ctx.distributed and cfg.parallel == "fsdp"
        if self.sharded:  # FSDP2: each block's parameters gathered only while it runs
            for block in self.model.blocks:
                fully_shard(block)
            fully_shard(self.model)
        self.optimizer = make_optimizer(self.model, cfg, fused=cuda)
        self.scheduler = make_scheduler(self.optimizer, cfg)
        compile_model = cfg.compile if cfg.compile is not None else cuda
        self.net = torch.compile(self.model) if compile_model else self.model
        self.trainable = DistributedDataParallel(self.net, device_ids=[ctx.device] if cuda else None) \
            if ctx.distributed and not self.sharded else self.net
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda \
            else contextlib.nullcontext
        self.rails = LossRails(cfg.spike_window, cfg.spike_threshold)
        self.step = 0
        self.rollbacks = 0
        self.rows_per_step = cfg.batch_size * cfg.grad_accum  # per rank
        self.tokens_per_step = self.rows_per_step * ctx.world_size * self.data.seq_len
        peak = cfg.peak_flops or (device_peak(torch.cuda.get_device_name(ctx.device)) if cuda else None)
        self.peak_flops = peak * ctx.world_size if peak else None
        self.sink = MetricsSink(run_dir, cfg.tensorboard) if ctx.is_main else None
        self._batches: Prefetcher | None = None
        self._data_state = self.data.state_dict()
        if ctx.is_main:
            _keep_tokenizer(tokens_dir, self.data.manifest, run_dir)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop_at: int | None) -> TrainResult:
        try:
            return self._run(stop_at)
        finally:
            if self._batches is not None:
                self._batches.close()

    def _run(self, stop_at: int | None) -> TrainResult:
        last = latest_checkpoint(self.checkpoints)
        if last is not None:
            self._restore(last)
            if self.sink:
                self.sink.resume_at(self.step, self.rollbacks)
            self._event({"event": "resume", "checkpoint": last.name})
        else:
            if self.sink:
                self.sink.resume_at(0, 0)
            self._start_batches()
            self._save()  # step 0: the first place to roll back to
        end = min(self.cfg.steps, stop_at) if stop_at is not None else self.cfg.steps
        if self.ctx.is_main:
            held_out = "" if self.data.has_eval else \
                "; no eval: a held-out slice needs two shards or more (pack.rows_per_shard)"
            print(f"[train] {self.params:,} parameters, {self.tokens_per_step:,} tokens a "
                  f"step, {self.ctx.world_size} process(es) on {self.ctx.device.type}"
                  f"{' (fsdp)' if self.sharded else ''}; steps {self.step} to {end}{held_out}",
                  file=sys.stderr, flush=True)
        loss = eval_loss = None
        saved_at = self.step
        interrupted = False
        pending: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # steps not yet past the rails
        started = time.perf_counter()
        while self.step < end and not interrupted:
            lr = self.scheduler.get_last_lr()[0]
            step_loss, grad_norm = self._forward_backward()
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            pending.append((step_loss, grad_norm, lr))
            cfg = self.cfg
            if not (self.step % cfg.log_every == 0 or self.step % cfg.eval_every == 0
                    or self.step % cfg.checkpoint_every == 0 or self.step == end):
                continue
            checked, interrupted, anomaly = self._check(pending, time.perf_counter() - started)
            pending = []
            if anomaly is not None:
                self._roll_back(*anomaly)
                saved_at = self.step
                started = time.perf_counter()
                continue
            loss = checked
            if self.step % cfg.eval_every == 0 or self.step == end:
                eval_loss = self.evaluate()
            if self.step % cfg.checkpoint_every == 0:
                self._save()
                saved_at = self.step
            started = time.perf_counter()
        if interrupted:
            self._event({"event": "interrupted", "action": "checkpoint and stop"})
        if saved_at != self.step:
            self._save()
        return TrainResult(self.run_dir, self.step, loss, eval_loss, self.params,
                           self.tokens_per_step, self.rollbacks, interrupted)

    def _start_batches(self) -> None:
        """Read batches ahead on a thread from the data's current position (pinned on CUDA)."""
        if self._batches is not None:
            self._batches.close()
        pin = self.ctx.device.type == "cuda"
        self._data_state = self.data.state_dict()
        self._batches = Prefetcher(
            self.data.batches(self.cfg.batch_size),
            transform=lambda item: ((torch.from_numpy(item[0]).pin_memory() if pin
                                     else torch.from_numpy(item[0])), item[1]))

    def _next_rows(self) -> torch.Tensor:
        rows, self._data_state = next(self._batches)
        return rows.to(self.ctx.device, non_blocking=True)

    def _forward_backward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulate the gradient of one step; its mean loss on this rank and the gradient's
        norm, both left on the device."""
        accum = self.cfg.grad_accum
        total = torch.zeros((), device=self.ctx.device)
        for micro in range(accum):
            rows = self._next_rows()
            last = micro == accum - 1
            if self.sharded:
                self.model.set_requires_gradient_sync(last)
            sync = self.trainable.no_sync() if self.ctx.distributed and not self.sharded and not last \
                else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss = pretraining_loss(self.trainable, rows)
                (loss / accum).backward()
            total += loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP
            grad_norm = grad_norm.full_tensor()
        return total / accum, grad_norm.detach().to(total.dtype)

    def _check(self, pending: list, seconds: float) -> tuple[float | None, bool, tuple | None]:
        """Pass the pending steps through the rails in one host sync: (the last loss, whether any
        rank was asked to stop, (anomaly, its step) for the first bad step or None). Accepted
        steps at a multiple of `log_every` are logged."""
        first = self.step - len(pending) + 1
        values = torch.stack([torch.stack([loss, norm]) for loss, norm, _ in pending])
        stop = torch.tensor([[float(self.signals.requested), 0.0]], device=values.device)
        values = distributed.mean_across(self.ctx, torch.cat([values, stop])).tolist()
        per_step = seconds / len(pending)
        loss = None
        for offset, ((loss, grad_norm), (_, _, lr)) in enumerate(zip(values, pending)):
            step = first + offset
            anomaly = self.rails.check(loss, grad_norm)
            if anomaly is not None:
                return None, values[-1][0] > 0, (anomaly, step)
            self.rails.accept(loss)
            if step % self.cfg.log_every == 0:
                self._log_step(step, loss, lr, grad_norm, per_step)
        return loss, values[-1][0] > 0, None

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean loss over the held-out rows (the same rows every time), or None without any."""
        if not self.data.has_eval:
            return None
        self.net.eval()
        total, count = torch.zeros((), device=self.ctx.device), 0
        for batch in self.data.eval_batches(self.cfg.batch_size, self.cfg.eval_batches, even=self.sharded):
            with self.autocast():
                total += pretraining_loss(self.net, torch.from_numpy(batch).to(self.ctx.device))
            count += 1
        self.net.train()
        eval_loss = float(distributed.mean_across(self.ctx, total / max(count, 1)))
        if self.sink:
            self.sink.log({"step": self.step, "eval_loss": eval_loss})
        return eval_loss

    def _log_step(self, step: int, loss: float, lr: float, grad_norm: float, seconds: float) -> None:
        if not self.sink:
            return
        tokens_per_s = self.tokens_per_step / seconds
        record = {"step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                  "tokens_per_s": round(tokens_per_s, 1)}
        if self.peak_flops:
            record["mfu"] = round(self.flops_per_token * tokens_per_s / self.peak_flops, 4)
        self.sink.log(record)

    # -- rails --------------------------------------------------------------------------------

    def _roll_back(self, anomaly: Anomaly, step: int) -> None:
        """Return to the newest checkpoint and skip the rows read since it up to the bad `step`
        (counted from 1), that one included."""
        self.optimizer.zero_grad(set_to_none=True)
        self.rollbacks += 1
        bad_step = step - 1  # steps done before the bad one
        record = {"event": anomaly.kind, **_finite_or_none(dataclasses.asdict(anomaly)),
                  "rollbacks": self.rollbacks}
        del record["kind"]
        if self.rollbacks > self.cfg.max_rollbacks:
            self.step = bad_step
            self._event({**record, "action": "stop"})
            raise TrainingDiverged(
                f"step {bad_step}: {anomaly.kind} (loss {anomaly.loss:.4g}) after "
                f"{self.cfg.max_rollbacks} rollbacks; raise train.max_rollbacks or lower train.lr")
        last = latest_checkpoint(self.checkpoints)
        rollbacks = self.rollbacks
        self._restore(last, start=False)
        self.rollbacks = rollbacks
        skipped = (bad_step - self.step + 1) * self.rows_per_step
        self.data.skip(skipped)
        self._start_batches()
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
        data = TrainingData.merge(distributed.gather(self.ctx, self._data_state))
        model_state, optimizer_state = get_state_dict(self.model, self.optimizer)
        meta = {
            "step": self.step,
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,
            "data": data,
            "rails": self.rails.state_dict(),
            "rollbacks": self.rollbacks,
            "world_size": self.ctx.world_size,
            "config": dataclasses.asdict(self.cfg),
            "model_config": dataclasses.asdict(self.model_cfg),
            "tokenizer": self.data.manifest["tokenizer"],
        }
        if self.cfg.parallel == "fsdp":
            save_sharded_checkpoint(self.checkpoints, self.step,
                                    {"model": model_state, "optimizer": optimizer_state}, meta,
                                    self.cfg.keep_checkpoints, self.ctx.is_main,
                                    lambda: distributed.barrier(self.ctx))
            return
        if self.ctx.is_main:
            save_checkpoint(self.checkpoints, self.step,
                            {**meta, "model": model_state, "optimizer": optimizer_state},
                            self.cfg.keep_checkpoints)
        distributed.barrier(self.ctx)

    def _restore(self, path: Path, start: bool = True) -> None:
        if self._batches is not None:  # its thread must not read while the position is reset
            self._batches.close()
            self._batches = None
        state = load_checkpoint(path)
        self._check_compatible(state, path)
        model_state, optimizer_state = get_state_dict(self.model, self.optimizer)
        if path.is_dir():
            shards = {"model": model_state, "optimizer": optimizer_state}
            load_shards(path, shards)
            model_state, optimizer_state = shards["model"], shards["optimizer"]
        else:
            model_state, optimizer_state = state["model"], state["optimizer"]
        set_state_dict(self.model, self.optimizer, model_state_dict=model_state,
                       optim_state_dict=optimizer_state)
        self.scheduler.load_state_dict(state["scheduler"])
        if len(state["rng"]) == self.ctx.world_size:
            set_rng_state(state["rng"][self.ctx.rank], self.ctx.device)
        else:  # another number of processes: new dropout streams, drawn from the seed and step
            torch.manual_seed(self.cfg.seed + self.ctx.rank + 1_000_003 * state["step"])
        self.data.load_state_dict(state["data"])
        self._data_state = self.data.state_dict()
        if start:
            self._start_batches()
        self.rails.load_state_dict(state["rails"])
        self.rollbacks = state["rollbacks"]
        self.step = state["step"]

    def _check_compatible(self, state: dict, path: Path) -> None:
        saved, now = state["config"], dataclasses.asdict(self.cfg)
        for key in _RESUME_KEYS:
            if saved.get(key, "ddp") != now[key]:
                raise ValueError(f"{path}: train.{key} was {saved.get(key, 'ddp')!r} in this run, now "
                                 f"{now[key]!r}; use a new run folder or the old setting")


def _keep_global_batch(cfg: TrainConfig, saved: dict, world_size: int, path: Path) -> TrainConfig:
    """`cfg`, with `grad_accum` set so that a run resumed on another number of processes keeps
    the rows a step it was started with (the data then continues exactly where it stopped)."""
    before = saved["config"]
    rows = before["batch_size"] * before["grad_accum"] * saved["world_size"]
    if cfg.batch_size * cfg.grad_accum * world_size == rows:
        return cfg
    accum, rest = divmod(rows, cfg.batch_size * world_size)
    if rest or accum < 1 or saved["world_size"] == world_size:
        raise ValueError(
            f"{path}: the run took {rows} rows a step (batch_size {before['batch_size']} × grad_accum "
            f"{before['grad_accum']} × {saved['world_size']} processes), now "
            f"{cfg.batch_size * cfg.grad_accum * world_size}; keep batch_size × grad_accum × processes")
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"[train] resumed on {world_size} process(es) instead of {saved['world_size']}: grad_accum "
              f"{accum} keeps the {rows} rows a step", file=sys.stderr, flush=True)
    return dataclasses.replace(cfg, grad_accum=accum)


def _keep_tokenizer(tokens_dir: str, manifest: dict, run_dir: Path) -> None:
    """Copy the tokenizer that packed the data into the run folder (`tokenmill generate` and
    `export` read it there), when it lies beside the token folder, as `tokenmill run` leaves it."""
    source = Path(tokens_dir).parent / "tokenizer.json"
    target = run_dir / "tokenizer.json"
    if "://" in tokens_dir or target.exists() or not source.is_file():
        return
    if hashlib.sha256(source.read_bytes()).hexdigest() == manifest["tokenizer"].get("sha256"):
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _finite_or_none(record: dict) -> dict:
    return {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in record.items()}
