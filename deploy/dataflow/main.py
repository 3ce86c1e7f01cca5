"""Flex-template entry point for `tokenmill curate`, `tokenmill tokenizer train` and `tokenmill pack` on Dataflow.

The template launcher runs `python main.py --name=value ...`: one `--name=value` per template parameter (see
flex_template*.json) plus Dataflow's own options. `--job` picks the command (curate when absent); its template
parameters become the command's flags, every other argument goes to Beam unchanged, and the command runs on
Dataflow unless told otherwise. Curate takes its sources as one `;`-separated list of NAME=FORMAT:GLOB (a
parameter is given once), turned into `--source` flags.

Pack runs two Dataflow jobs in turn from the launcher: tokenize and pack every curated shard (counts come back),
then, once the mixture is planned from those counts, write the output shards. The tokenizer job draws the sample
on Dataflow and learns the merges on the launcher, which receives about `sample_bytes` of text.
"""
from __future__ import annotations

import sys
from typing import NamedTuple, Sequence

from tokenmill.jobs.cli import cli


class Job(NamedTuple):
    command: tuple[str, ...]
    flags: frozenset[str]            # template parameters that are flags of the command
    switches: frozenset[str] = frozenset()


JOBS = {
    "curate": Job(("curate",), frozenset({"output", "config", "stages", "langs", "lang_threshold", "runner"}),
                  frozenset({"keep_rejected"})),
    "tokenizer": Job(("tokenizer", "train"), frozenset({"input", "output", "vocab_size", "sample_bytes", "mixture",
                                                        "config", "runner"})),
    "pack": Job(("pack",), frozenset({"curated", "tokenizer", "output", "seq_len", "total_tokens", "mixture",
                                      "packing", "config", "runner"})),
}


def template_argv(argv: Sequence[str]) -> list[str]:
    """Launcher arguments → the argument list of the tokenmill command that `--job` names."""
    name = next((a.partition("=")[2] for a in argv if a.startswith("--job=")), "curate")
    if name not in JOBS:
        raise SystemExit(f"--job={name}: expected one of {', '.join(JOBS)}")
    job = JOBS[name]
    args, runner_given = list(job.command), False
    for arg in argv:
        key, eq, value = arg.removeprefix("--").partition("=")
        if key == "job" and eq:
            continue
        if not arg.startswith("--") or not eq:
            args.append(arg)
        elif key == "sources" and name == "curate":
            for source in (s.strip() for s in value.split(";")):
                if source:
                    args += ["--source", source]
        elif key in job.switches:
            if value.lower() in ("true", "1", "yes"):
                args.append(f"--{key.replace('_', '-')}")
        elif key in job.flags:
            runner_given |= key == "runner"
            args += [f"--{key.replace('_', '-')}", value]
        else:
            args.append(arg)
    return args if runner_given else [*args, "--runner", "DataflowRunner"]


if __name__ == "__main__":
    cli(template_argv(sys.argv[1:]))
