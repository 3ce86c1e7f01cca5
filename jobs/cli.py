"""The `tokenmill` command: one click group, one subcommand per job."""
from importlib.metadata import version

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("tokenmill"), prog_name="tokenmill")
def cli() -> None:
    """Curate raw text shards into packed, mixture-weighted token shards and train a GPT on them."""


def main() -> None:
    cli()
