"""`tokenmill eval`: a run's checkpoints (or a Hugging Face model) on held-out text and multiple-choice sets.

    tokenmill eval --run RUN --text wiki=text:'held-out/wiki/*.txt' --choice hellaswag=hellaswag_val.jsonl
    tokenmill eval --hf exported/ --text books=book:'pg/*.txt'

Results are appended to RUN/eval.json (DIR/eval.json for --hf, or --output), one entry per
checkpoint (jobs/eval/results.py); `tokenmill report` shows them. Throughput goes to the folder's
run card (run.json, job `eval`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import click

from tokenmill.jobs.eval.results import EVAL_FILE
from tokenmill.pipeline.schema import ConfigError


def evaluate_run(run_dir: Path, steps: Sequence[Optional[int]], text_flags: Sequence[str],
                 choice_flags: Sequence[str], stride: Optional[int] = None, batch_size: int = 8,
                 device: str = "auto", output: Optional[Path] = None, tokenizer: Optional[Path] = None,
                 show_progress: bool = True, echo=click.echo) -> list[dict]:
    """Evaluate each checkpoint of `steps` (None: the newest) of a run; returns the merged entries."""
    from tokenmill.jobs.eval.models import TokenmillModel

    entries = []
    for step in steps:
        model = TokenmillModel(run_dir, step, device, tokenizer)
        echo(f"step {model.step}: {model.params:,} parameters, context {model.context}, on {model.device}")
        checkpoint = {"step": model.step, "file": model.checkpoint.name}
        entries.append(_evaluate(model, checkpoint, model.tokenizer_sha256, output or run_dir / EVAL_FILE,
                                 run_dir, text_flags, choice_flags, stride, batch_size, show_progress, echo))
    return entries


def evaluate_hf(folder: Path, text_flags: Sequence[str], choice_flags: Sequence[str], stride: Optional[int] = None,
                batch_size: int = 8, device: str = "auto", output: Optional[Path] = None,
                show_progress: bool = True, echo=click.echo) -> dict:
    from tokenmill.jobs.eval.models import HuggingFaceModel

    model = HuggingFaceModel(folder, device)
    echo(f"{folder}: {model.params:,} parameters, context {model.context}, on {model.device}")
    target = output or folder / EVAL_FILE
    return _evaluate(model, None, None, target, target.parent, text_flags, choice_flags, stride, batch_size,
                     show_progress, echo)


def _evaluate(model, checkpoint, tokenizer_sha256, target: Path, card_folder: Path, text_flags, choice_flags,
              stride, batch_size, show_progress, echo) -> dict:
    from tokenmill.jobs.eval.evaluate import evaluate_model, set_files
    from tokenmill.jobs.eval.results import record_evaluation
    from tokenmill.jobs.run_card import run_card

    settings = {"model": model.name, "text": list(text_flags), "choice": list(choice_flags), "stride": stride,
                "batch_size": batch_size}
    with run_card("eval", str(card_folder), settings, set_files(text_flags, choice_flags),
                  {"device": str(model.device)}) as card:
        results, speed = evaluate_model(model, text_flags, choice_flags, stride, batch_size, show_progress, echo)
        card.update(throughput=speed.as_json(), output=str(target))
    echo(f"scored {speed.tokens:,} tokens in {speed.seconds:.1f} s: {speed.tokens / max(speed.seconds, 1e-9):,.0f} "
         f"tokens/s ({speed.tokens / max(speed.cpu_seconds, 1e-9):,.0f} per CPU-second) → {target}")
    entry = {"checkpoint": checkpoint, "model": {"name": model.name, "params": model.params, "context": model.context,
                                                 "tokenizer_sha256": tokenizer_sha256}, **results}
    return record_evaluation(target, entry)


@click.command("eval")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Run folder of `tokenmill train` (no default: this or --hf).")
@click.option("--hf", "hf_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A Hugging Face causal LM folder (e.g. from `tokenmill export --hf`) (no default: this or --run).")
@click.option("--checkpoint", "steps", multiple=True, type=click.IntRange(min=0),
              help="Step of a checkpoint to evaluate (default: the newest). Repeatable.")
@click.option("--text", "text_flags", multiple=True, metavar="NAME=FORMAT:GLOB",
              help="Held-out text, read as curate reads a source: bits per byte. Repeatable.")
@click.option("--choice", "choice_flags", multiple=True, metavar="NAME=PATH",
              help="Multiple-choice file (HellaSwag, ARC or PIQA layout): acc and acc_norm. Repeatable.")
@click.option("--stride", type=click.IntRange(min=1), help="Ids a text window moves on (default: half the context).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Windows a forward pass.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="eval.json to append to (default: RUN/eval.json, or DIR/eval.json for --hf).")
@click.option("--tokenizer", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="tokenizer.json of the run (default: RUN/tokenizer.json).")
def eval_command(run_dir, hf_dir, steps, text_flags, choice_flags, stride, batch_size, device, output, tokenizer):
    """Bits per byte on held-out text and accuracy on multiple-choice sets, appended to RUN/eval.json."""
    if bool(run_dir) == bool(hf_dir):
        raise click.UsageError("give --run RUN or --hf DIR")
    if hf_dir and (steps or tokenizer):
        raise click.UsageError("--checkpoint and --tokenizer go with --run")
    from tokenmill.jobs.eval.evaluate import check_sets

    try:
        check_sets(text_flags, choice_flags)
        if run_dir:
            evaluate_run(run_dir, list(steps) or [None], text_flags, choice_flags, stride, batch_size, device,
                         output, tokenizer)
        else:
            evaluate_hf(hf_dir, text_flags, choice_flags, stride, batch_size, device, output)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None
