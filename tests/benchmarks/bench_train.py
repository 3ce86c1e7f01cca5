"""Trainer throughput against a bare PyTorch loop over the same model, in one process.

    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py --threads 1                  # tiny, CPU
    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py --threads 1 --model small
    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py --device cuda                # GPT-2 124M
    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py --device cuda --nanogpt ~/nanoGPT

`--device cuda` defaults to GPT-2 124M (seq_len 1,024, batch 16, GPT-2's 50,257 ids padded to
50,304, bf16 autocast, `torch.compile`, fused AdamW, flash attention through SDPA, 50 steps).

The bare loop is what the trainer does minus everything it adds: streaming Parquet rows on a
background thread, the rails (the losses checked every `log_every` steps), metrics lines and
checkpoints. Both run the same model, loss, optimiser, batch and precision; the table gives
tokens/s for each, their ratio (the trainer's overhead), peak memory, and on CUDA the MFU
(FLOPs per token 6N + 12·L·H·Q·T over the device's dense bf16 peak). A second bare loop computes
the loss from the full logits (what a plain loop writes, and the trainer did before its chunked
loss), and on CUDA with `--nanogpt PATH`
(a checkout of karpathy/nanoGPT) its model and optimiser run the same loop for comparison.
On CPU the step is timed by its median; on CUDA by the wall time of the steps after warm-up
(one synchronisation at each end, none in between).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from tokenmill.jobs.hardware import device_peak  # noqa: E402
from tokenmill.jobs.train.model import GPT, GPTConfig, pretraining_loss  # noqa: E402
from tokenmill.jobs.train.optim import make_optimizer, make_scheduler  # noqa: E402
from tokenmill.jobs.train.trainer import train  # noqa: E402
from tokenmill.pipeline.train_config import ModelConfig, TrainConfig  # noqa: E402
from token_shards import write_token_shards  # noqa: E402


def full_logits_loss(model: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """The loss as a plain loop writes it: every logit materialised, then cross-entropy in fp32."""
    logits = model(rows[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), rows[:, 1:].flatten())


def timed_loop(step: Callable[[torch.Tensor], None], batches: list[torch.Tensor], steps: int,
               warmup: int, device: torch.device) -> float:
    """Seconds a step: the median on CPU, the mean wall time after `warmup` on CUDA."""
    cuda = device.type == "cuda"
    seconds = []
    for index in range(steps):
        if cuda and index == warmup:
            torch.cuda.synchronize()
            began = time.perf_counter()
        started = time.perf_counter()
        step(batches[index % len(batches)].to(device, non_blocking=True))
        seconds.append(time.perf_counter() - started)
    if cuda:
        torch.cuda.synchronize()
        return (time.perf_counter() - began) / (steps - warmup)
    return float(np.median(seconds[warmup:]))


def bare_loop(cfg: TrainConfig, rows: np.ndarray, vocab: int, device: torch.device, warmup: int,
              loss_fn=pretraining_loss) -> float:
    """Tokens/s of the plain loop over the trainer's model, optimiser and schedule."""
    torch.manual_seed(cfg.seed)
    seq_len = rows.shape[1] - 1
    model = GPT(GPTConfig.named(cfg.model.size, vocab, seq_len)).to(device)
    cuda = device.type == "cuda"
    optimizer = make_optimizer(model, cfg, fused=cuda)
    scheduler = make_scheduler(optimizer, cfg)
    net = torch.compile(model) if (cfg.compile if cfg.compile is not None else cuda) else model

    def step(batch: torch.Tensor) -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
            loss = loss_fn(net, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    batches = list(torch.from_numpy(rows.astype(np.int64)).split(cfg.batch_size))
    return cfg.batch_size * seq_len / timed_loop(step, batches, cfg.steps, warmup, device)


def nanogpt_loop(path: Path, cfg: TrainConfig, rows: np.ndarray, vocab: int, device: torch.device,
                 warmup: int) -> float:
    """Tokens/s of nanoGPT's own model and optimiser (its model.py) in the same loop."""
    spec = importlib.util.spec_from_file_location("nanogpt_model", path / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from tokenmill.jobs.train.model import SIZES
    n_layer, n_head, n_embd = SIZES[cfg.model.size]
    seq_len = rows.shape[1] - 1
    torch.manual_seed(cfg.seed)
    model = module.GPT(module.GPTConfig(block_size=seq_len, vocab_size=-(-vocab // 64) * 64, n_layer=n_layer,
                                        n_head=n_head, n_embd=n_embd, dropout=0.0, bias=True)).to(device)
    optimizer = model.configure_optimizers(cfg.weight_decay, cfg.lr, (cfg.beta1, cfg.beta2), device.type)
    net = torch.compile(model)

    def step(batch: torch.Tensor) -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = net(batch[:, :-1], batch[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    batches = list(torch.from_numpy(rows.astype(np.int64)).split(cfg.batch_size))
    return cfg.batch_size * seq_len / timed_loop(step, batches, cfg.steps, warmup, device)


def trainer_speed(run: Path, warmup: int) -> float:
    """Tokens/s of the trainer: the median of its logged figures after `warmup` steps."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r and r["step"] > warmup]
    return float(np.median([r["tokens_per_s"] for r in steps]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--model", help="default: tiny on CPU, gpt2-124m on CUDA")
    parser.add_argument("--steps", type=int, help="default: 30 on CPU, 50 on CUDA")
    parser.add_argument("--warmup", type=int, help="untimed first steps (default: 5 on CPU, 20 on CUDA)")
    parser.add_argument("--seq-len", type=int, help="default: 256 on CPU, 1024 on CUDA")
    parser.add_argument("--batch-size", type=int, help="default: 8 on CPU, 16 on CUDA")
    parser.add_argument("--vocab", type=int, help="default: 8192 on CPU, GPT-2's 50257 on CUDA")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction,
                        help="torch.compile (default: on for CUDA, off on CPU)")
    parser.add_argument("--log-every", type=int, help="the trainer's log_every (default: 1 on CPU, 10 on CUDA)")
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: its own choice)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Alternate the loops this many times; report each one's best.")
    parser.add_argument("--nanogpt", type=Path, help="A nanoGPT checkout, to time its model too (CUDA).")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    pick = lambda value, cpu, gpu: value if value is not None else (gpu if cuda else cpu)  # noqa: E731
    model, steps, warmup = pick(args.model, "tiny", "gpt2-124m"), pick(args.steps, 30, 50), pick(args.warmup, 5, 20)
    seq_len, batch_size = pick(args.seq_len, 256, 1024), pick(args.batch_size, 8, 16)
    vocab, log_every = pick(args.vocab, 8192, 50257), pick(args.log_every, 1, 10)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = TrainConfig(model=ModelConfig(size=model), steps=steps, batch_size=batch_size, warmup_steps=5,
                      device=args.device, compile=args.compile, eval_every=10**6, log_every=log_every,
                      checkpoint_every=10**6, tensorboard=False)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, vocab, size=(steps * batch_size, seq_len + 1))
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens"
        write_token_shards(tokens, rows, vocab, rows_per_shard=max(1, len(rows) // 4))
        best: dict[str, float] = {}
        for repeat in range(args.repeats):  # alternated, so load on a shared machine hits every loop
            loops = {"bare PyTorch loop": lambda: bare_loop(cfg, rows, vocab, device, warmup),
                     "bare loop, full fp32 logits": lambda: bare_loop(cfg, rows, vocab, device, warmup,
                                                                      full_logits_loss)}
            if cuda:
                if args.nanogpt:
                    loops["nanoGPT model.py, same loop"] = lambda: nanogpt_loop(args.nanogpt, cfg, rows, vocab,
                                                                                device, warmup)
            for name, loop in loops.items():
                best[name] = max(best.get(name, 0.0), loop())
            run = Path(tmp) / f"run-{repeat}"
            started = time.perf_counter()
            result = train(tokens, run, cfg)
            end_to_end = result.step * result.tokens_per_step / (time.perf_counter() - started)
            best["tokenmill trainer (median step)"] = max(best.get("tokenmill trainer (median step)", 0.0),
                                                          trainer_speed(run, warmup))
            best["tokenmill trainer (end to end)"] = max(best.get("tokenmill trainer (end to end)", 0.0), end_to_end)
    with torch.device("meta"):
        flops_per_token = GPT(GPTConfig.named(model, vocab, seq_len)).flops_per_token()
    peak_mb = (torch.cuda.max_memory_allocated() if cuda
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    name = torch.cuda.get_device_name() if cuda else "cpu"
    peak = device_peak(name)
    print(f"model {model} ({result.params:,} parameters), {name}, seq_len {seq_len}, batch {batch_size}, "
          f"vocab {vocab}, {steps} steps (first {warmup} not timed), compile "
          f"{cfg.compile if cfg.compile is not None else cuda}, log_every {log_every}, best of {args.repeats}, "
          f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}")
    print(f"{'loop':<36}{'tokens/s':>12}{'ratio':>8}{'MFU':>8}")
    bare = best["bare PyTorch loop"]
    for loop, speed in best.items():
        mfu = f"{flops_per_token * speed / peak:.1%}" if peak else ""
        print(f"{loop:<36}{speed:>12,.0f}{speed / bare:>8.2f}{mfu:>8}")
    print(f"peak memory {peak_mb:,.0f} MiB; dense bf16 peak of this device {peak or 'unknown'} FLOP/s")


if __name__ == "__main__":
    main()
