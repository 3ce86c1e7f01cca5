"""The `tokenmill` command: one click group, one subcommand per job.

Subcommands are imported when they run, not when the group starts, so `tokenmill --help` and the
light commands (`plan`) answer at once instead of first importing Beam, presidio and torch.
"""
from __future__ import annotations

import importlib

import click

# name -> (module:attribute of the click command, one-line help shown by `tokenmill --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "curate": ("tokenmill.jobs.curate:curate_command", "Curate raw shards into Parquet and a ledger."),
    "classifier": ("tokenmill.jobs.classifier:classifier_group", "Train and evaluate fastText quality classifiers."),
    "tokenizer": ("tokenmill.jobs.tokenizer:tokenizer_group", "Train a BPE tokenizer; encode and decode."),
    "pack": ("tokenmill.jobs.pack:pack_command", "Tokenize, pack and mix curated text into token shards."),
    "export-tokens": ("tokenmill.jobs.export_tokens:export_command", "Export token shards for nanoGPT or Megatron-LM."),
    "train": ("tokenmill.jobs.train.command:train_command", "Train the GPT on packed token shards."),
    "generate": ("tokenmill.jobs.train.generate:generate_command", "Sample text from a trained run."),
    "export": ("tokenmill.jobs.train.export:export_command", "Export a trained run for Hugging Face transformers."),
    "eval": ("tokenmill.jobs.eval.command:eval_command", "Bits per byte and multiple-choice accuracy of a model."),
    "ablate": ("tokenmill.jobs.ablate.command:ablate_command", "Compare curation configs by the proxy models they train."),
    "plan": ("tokenmill.jobs.plan:plan_command", "Size a model and its data for a compute budget."),
    "report": ("tokenmill.jobs.report.page:report_command", "Write OUT/report.html for a run."),
    "run": ("tokenmill.jobs.run:run_command", "Run every stage, curate to train, from one config."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


def _version() -> str:
    from tokenmill import __version__
    return __version__


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="tokenmill")
def cli() -> None:
    """Curate raw text shards into packed, mixture-weighted token shards and train a GPT on them."""


def main() -> None:
    from tokenmill.jobs.logs import configure_logging

    configure_logging()
    cli()


if __name__ == "__main__":
    main()
