"""The `tokenmill` command: one click group, one subcommand per job.

Subcommands are imported when they run, not when the group starts, so `tokenmill --help` and the
light commands (`plan`) answer at once instead of first importing Beam, presidio and torch.

Every command's help ends with the docs page that explains it, and every option's help gives its
default: click shows the defaults declared on the options, and an option whose default is a config
key's (`--lang-threshold` and `stages.langid.threshold`) shows that key and its default, read from the
config's dataclasses when the command is loaded.
"""
from __future__ import annotations

import importlib

import click

# name -> (module:attribute of the click command, one-line help shown by `tokenmill --help`, its docs page)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "curate": ("tokenmill.jobs.curate:curate_command", "Curate raw shards into Parquet and a ledger.", "curation.md"),
    "classifier": ("tokenmill.jobs.classifier:classifier_group", "Train and evaluate fastText quality classifiers.",
                   "quality.md#quality-classifiers"),
    "tokenizer": ("tokenmill.jobs.tokenizer:tokenizer_group", "Train a BPE tokenizer; encode and decode.",
                  "tokenizer-and-packing.md#tokenizer"),
    "pack": ("tokenmill.jobs.pack:pack_command", "Tokenize, pack and mix curated text into token shards.",
             "tokenizer-and-packing.md"),
    "export-tokens": ("tokenmill.jobs.export_tokens:export_command", "Export token shards for nanoGPT or Megatron-LM.",
                      "tokenizer-and-packing.md#training-elsewhere"),
    "train": ("tokenmill.jobs.train.command:train_command", "Train the GPT on packed token shards.", "training.md#training"),
    "generate": ("tokenmill.jobs.train.generate:generate_command", "Sample text from a trained run.", "training.md#training"),
    "export": ("tokenmill.jobs.train.export:export_command", "Export a trained run for Hugging Face transformers.",
               "training.md#training"),
    "eval": ("tokenmill.jobs.eval.command:eval_command", "Bits per byte and multiple-choice accuracy of a model.",
             "training.md#evaluation"),
    "ablate": ("tokenmill.jobs.ablate.command:ablate_command", "Compare curation configs by the proxy models they train.",
               "training.md#ablation"),
    "plan": ("tokenmill.jobs.plan:plan_command", "Size a model and its data for a compute budget.", "training.md#planning"),
    "report": ("tokenmill.jobs.report.page:report_command", "Write OUT/report.html for a run.",
               "ledger-and-report.md#the-report"),
    "run": ("tokenmill.jobs.run:run_command", "Run every stage, curate to train, from one config.", "index.md"),
}
DOCS = "docs/"  # where the pages live in the repository (and, built with MkDocs, on the site)
TORCH_PACKAGES = ("tokenmill.jobs.train.", "tokenmill.jobs.eval.", "tokenmill.jobs.ablate.")  # commands that need PyTorch

# Options whose default is a config key's, by command and option name: what the option sets when given,
# else what --config sets, else the key's default.
OPTION_KEYS: dict[str, dict[str, str]] = {
    "curate": {"langs": "stages.langid.languages", "lang_threshold": "stages.langid.threshold",
               "runner": "runner.name", "workers": "runner.workers"},
    "tokenizer train": {"vocab_size": "tokenizer.vocab_size", "sample_bytes": "tokenizer.sample_bytes",
                        "runner": "runner.name", "workers": "runner.workers"},
    "pack": {"seq_len": "pack.seq_len", "packing": "pack.packing",
             "runner": "runner.name", "workers": "runner.workers"},
    "train": {"model": "train.model.size", "steps": "train.steps", "device": "train.device"},
    "plan": {"gpu": "plan.gpu", "mfu": "plan.mfu", "constants": "plan.constants",
             "tokens_per_param": "plan.tokens_per_param", "price": "plan.price_per_gpu_hour"},
    "run": {"steps": "train.steps", "device": "train.device", "runner": "runner.name", "workers": "runner.workers"},
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, _, page = COMMANDS[name]
        module, _, attribute = target.partition(":")
        if module.startswith(TORCH_PACKAGES):
            from tokenmill.jobs.train import NEEDS_TORCH, torch_installed

            if not torch_installed():
                raise click.UsageError(f"`tokenmill {name}` {NEEDS_TORCH}")
        return documented(getattr(importlib.import_module(module), attribute), name, page)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short, _) in COMMANDS.items()])


def documented(command: click.Command, name: str, page: str) -> click.Command:
    """`command` (and each subcommand of a group) with its docs page as the help's last line and, on each
    option that `OPTION_KEYS` backs by a config key, that key and its default. Done once per command."""
    if getattr(command, "tokenmill_docs", None):
        return command
    from tokenmill.pipeline.config_keys import default_text

    subcommands = getattr(command, "commands", {})
    for path, cmd in [(name, command), *((f"{name} {sub}", c) for sub, c in subcommands.items())]:
        cmd.epilog = f"Docs: {DOCS}{page}"
        keys = OPTION_KEYS.get(path, {})
        for param in cmd.params:
            if param.name in keys:
                key = keys[param.name]
                param.help = f"{param.help or ''} [default: {default_text(key)}, or {key} in --config]".strip()
    command.tokenmill_docs = page
    return command


def _version() -> str:
    from tokenmill import __version__
    return __version__


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
             epilog=f"Docs: {DOCS}index.md; every config key: {DOCS}reference/config.md")
@click.version_option(_version(), prog_name="tokenmill")
def cli() -> None:
    """Curate raw text shards into packed, mixture-weighted token shards and train a GPT on them."""


def main() -> None:
    from tokenmill.jobs.logs import configure_logging

    configure_logging()
    cli()


if __name__ == "__main__":
    main()
