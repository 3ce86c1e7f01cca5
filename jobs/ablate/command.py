"""`tokenmill ablate`: does this config's data train a better model than that one's?

    tokenmill ablate --config raw.yaml --config filtered.yaml --output out/ablation --tokens 2000000 \\
                     --model tiny --seeds 2 --text wiki=jsonl:'heldout/wiki.jsonl' --choice arc=arc_easy.jsonl

Small proxy models trained on equal token budgets and evaluated on fixed sets, as FineWeb (Penedo
et al. 2024) and DCLM (Li et al. 2024) compare datasets; DataDecide (Magnusson et al. 2025) finds
that 150M-parameter proxies rank datasets as 1B models do in about 80% of pairs. Every part is
resumable (jobs/ablate/parts.py): run the same command again after a stop, or with one more arm.
"""
from __future__ import annotations

import signal
from pathlib import Path

import click

from tokenmill.jobs.ablate.settings import PROXIES
from tokenmill.pipeline.schema import ConfigError

MODEL_ALIASES = {"124m": "gpt2-124m", "350m": "gpt2-350m", "774m": "gpt2-774m", "1.5b": "gpt2-1.5b"}


@click.command("ablate")
@click.option("--config", "configs", multiple=True, required=True, metavar="FILE.yaml|CURATE_DIR",
              help="An arm: a config to curate, or a folder `tokenmill curate` filled. Two or more.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The ablation's folder (local).")
@click.option("--tokens", required=True, type=click.IntRange(min=1), help="Token budget of every arm's proxy.")
@click.option("--model", default="tiny", show_default=True, type=click.Choice([*PROXIES, *MODEL_ALIASES]),
              help="Proxy size.")
@click.option("--seeds", default=2, show_default=True, type=click.IntRange(min=1), help="Proxies per arm.")
@click.option("--text", "text_flags", multiple=True, metavar="NAME=FORMAT:GLOB", help="Held-out text. Repeatable.")
@click.option("--choice", "choice_flags", multiple=True, metavar="NAME=PATH",
              help="Multiple-choice file (HellaSwag, ARC or PIQA layout). Repeatable.")
@click.option("--settings", "settings_path", type=click.Path(dir_okay=False),
              help="YAML with the shared tokenizer:, pack: and train: sections (default: the proxy size's).")
@click.option("--stride", type=click.IntRange(min=1), help="Text window stride (default: half the context).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1), help="Evaluation batch.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where proxies train and evaluate (default: train.device of --settings, else auto).")
@click.option("--runner", help="Beam runner for curate, the tokenizer's sample and pack (default: each config's "
                               "runner.name, else FnApiRunner).")
@click.option("--workers", type=int,
              help="Local Beam worker processes (default: each config's runner.workers, else 1).")
def ablate_command(configs, output, tokens, model, seeds, text_flags, choice_flags, settings_path, stride,
                   batch_size, device, runner, workers):
    """Curate each config, train one tokenizer on their union, pack each to --tokens, train --seeds proxies
    per arm and evaluate them all on the same sets; writes OUTPUT/ablation.json and ablation.html."""
    from tokenmill.jobs.ablate.page import write_page
    from tokenmill.jobs.ablate.run import Evaluation, Interrupted, run_ablation
    from tokenmill.jobs.ablate.settings import arm_from, check_arms, shared_settings
    from tokenmill.jobs.eval.evaluate import check_sets
    from tokenmill.jobs.train.trainer import TrainingDiverged

    try:
        arms = [arm_from(given) for given in configs]
        check_arms(arms)
        check_sets(text_flags, choice_flags)
        shared = shared_settings(settings_path, tokens, MODEL_ALIASES.get(model, model), seeds, device)
        evaluation = Evaluation(tuple(text_flags), tuple(choice_flags), stride, batch_size)
        summary = run_ablation(arms, output, shared, evaluation, runner, workers, echo=click.echo)
    except Interrupted as err:
        click.echo(str(err), err=True)
        raise SystemExit(128 + signal.SIGTERM) from None
    except (ConfigError, TrainingDiverged, FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    page = write_page(output, summary)
    for set_name, entry in summary["sets"].items():
        for figure, data in entry["figures"].items():
            means = ", ".join(f"{arm} {data['arms'][arm]['mean']:.4f} ± {data['arms'][arm]['range'] / 2:.4f}"
                              for arm in summary["settings"]["arms"])
            click.echo(f"{set_name} {figure}: {means}")
    click.echo(f"→ {output / 'ablation.json'}, {page}")
