"""Flex-template entry point for `tokenmill curate` on Dataflow.

The template launcher runs `python main.py --output=... --sources=... [--project=... --region=...]`: one
`--name=value` per template parameter (see flex_template.json) plus Dataflow's own options. A template
parameter is given once, so the sources come as one `;`-separated list of NAME=FORMAT:GLOB; this file turns
that into the `--source` flags of `tokenmill curate` and runs it on Dataflow unless told otherwise.
"""
from __future__ import annotations

import sys
from typing import Sequence

from tokenmill.jobs.cli import cli

# Template parameters that are `tokenmill curate` flags; every other argument goes to Beam unchanged.
CURATE_FLAGS = {"output", "config", "stages", "langs", "lang_threshold", "runner"}
CURATE_SWITCHES = {"keep_rejected"}


def curate_argv(argv: Sequence[str]) -> list[str]:
    """Launcher arguments → the argument list of `tokenmill curate`."""
    args, runner_given = ["curate"], False
    for arg in argv:
        name, eq, value = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or not eq:
            args.append(arg)
        elif name == "sources":
            for source in (s.strip() for s in value.split(";")):
                if source:
                    args += ["--source", source]
        elif name in CURATE_SWITCHES:
            if value.lower() in ("true", "1", "yes"):
                args.append(f"--{name.replace('_', '-')}")
        elif name in CURATE_FLAGS:
            runner_given |= name == "runner"
            args += [f"--{name.replace('_', '-')}", value]
        else:
            args.append(arg)
    return args if runner_given else [*args, "--runner", "DataflowRunner"]


if __name__ == "__main__":
    cli(curate_argv(sys.argv[1:]))
