"""Trainer throughput against a bare PyTorch loop over the same model, in one process.

    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py                      # tiny, CPU
    PYTHONPATH=$PWD python tests/benchmarks/bench_train.py --model gpt2-124m --device cuda \\
        --seq-len 1024 --batch-size 16 --vocab 50304 --steps 40 --compile      # MFU on a GPU

The bare loop is what the trainer does minus everything it adds: streaming Parquet rows,
the rails (the loss synchronised to the host every step), metrics lines and checkpoints.
Both run the same model, optimiser, batch and precision; the table gives tokens/s for each,
their ratio (the rails' overhead), peak memory, and on CUDA the MFU.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from tokenmill.jobs.hardware import device_peak  # noqa: E402
from tokenmill.jobs.train.model import GPT, GPTConfig, pretraining_loss  # noqa: E402
from tokenmill.jobs.train.optim import make_optimizer, make_scheduler  # noqa: E402
from tokenmill.jobs.train.trainer import train  # noqa: E402
from tokenmill.pipeline.train_config import ModelConfig, TrainConfig  # noqa: E402
from token_shards import write_token_shards  # noqa: E402


def bare_loop(cfg: TrainConfig, rows: np.ndarray, vocab: int, device: torch.device,
              warmup: int) -> float:
    """Tokens/s of the plain loop: the median step after `warmup` steps."""
    torch.manual_seed(cfg.seed)
    seq_len = rows.shape[1] - 1
    model = GPT(GPTConfig.named(cfg.model.size, vocab, seq_len)).to(device)
    cuda = device.type == "cuda"
    optimizer = make_optimizer(model, cfg, fused=cuda)
    scheduler = make_scheduler(optimizer, cfg)
    net = torch.compile(model) if cfg.compile else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    batches = torch.from_numpy(rows.astype(np.int64)).split(cfg.batch_size)
    seconds = []
    for step in range(cfg.steps):
        started = time.perf_counter()
        batch = batches[step % len(batches)].to(device, non_blocking=True)
        with autocast:
            loss = pretraining_loss(net, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return cfg.batch_size * seq_len / float(np.median(seconds[warmup:]))


def trainer_speed(run: Path, warmup: int) -> tuple[float, float | None]:
    """Tokens/s (and MFU) of the trainer: its own per-step figures, median after `warmup` steps."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r][warmup:]
    mfu = float(np.median([r["mfu"] for r in steps])) if "mfu" in steps[0] else None
    return float(np.median([r["tokens_per_s"] for r in steps])), mfu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: its own choice)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Alternate the two loops this many times; report each one's best.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = TrainConfig(model=ModelConfig(size=args.model), steps=args.steps, batch_size=args.batch_size,
                      warmup_steps=5, device=args.device, compile=args.compile, eval_every=10**6,
                      checkpoint_every=10**6, tensorboard=False)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, args.vocab, size=(args.steps * args.batch_size, args.seq_len + 1))
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens"
        write_token_shards(tokens, rows, args.vocab, rows_per_shard=max(1, len(rows) // 4))
        bare, rails, mfu, end_to_end = 0.0, 0.0, None, 0.0
        for repeat in range(args.repeats):  # alternated, so load on a shared machine hits both
            bare = max(bare, bare_loop(cfg, rows, args.vocab, device, args.warmup))
            run = Path(tmp) / f"run-{repeat}"
            started = time.perf_counter()
            result = train(tokens, run, cfg)
            end_to_end = max(end_to_end, result.step * result.tokens_per_step / (time.perf_counter() - started))
            speed, mfu = trainer_speed(run, args.warmup)
            rails = max(rails, speed)
    peak_mb = (torch.cuda.max_memory_allocated() if device.type == "cuda"
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"model {args.model} ({result.params:,} parameters), {name}, seq_len {args.seq_len}, "
          f"batch {args.batch_size}, {args.steps} steps (first {args.warmup} not timed), "
          f"compile {args.compile}, best of {args.repeats}, {torch.get_num_threads()} CPU threads, "
          f"torch {torch.__version__}")
    print(f"{'loop':<34}{'tokens/s':>12}{'ratio':>8}{'MFU':>8}")
    print(f"{'bare PyTorch loop':<34}{bare:>12,.0f}{1.0:>8.2f}{'':>8}")
    print(f"{'tokenmill trainer (median step)':<34}{rails:>12,.0f}{rails / bare:>8.2f}"
          f"{f'{mfu:.1%}' if mfu is not None else '':>8}")
    print(f"{'tokenmill trainer (end to end)':<34}{end_to_end:>12,.0f}{end_to_end / bare:>8.2f}")
    print(f"peak memory {peak_mb:,.0f} MiB; bf16 peak of this device "
          f"{device_peak(name) or 'unknown'} FLOP/s")


if __name__ == "__main__":
    main()
