"""The `tokenmill` command: one click group, one subcommand per job."""
from importlib.metadata import version

import click

from jobs.curate import curate_command
from jobs.pack import pack_command
from jobs.plan import plan_command
from jobs.report import report_command
from jobs.run import run_command
from jobs.tokenizer import tokenizer_group
from jobs.train.command import train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("tokenmill"), prog_name="tokenmill")
def cli() -> None:
    """Curate raw text shards into packed, mixture-weighted token shards and train a GPT on them."""


cli.add_command(curate_command, "curate")
cli.add_command(plan_command, "plan")
cli.add_command(tokenizer_group, "tokenizer")
cli.add_command(pack_command, "pack")
cli.add_command(report_command, "report")
cli.add_command(train_command, "train")
cli.add_command(run_command, "run")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
