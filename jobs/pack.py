"""`tokenmill pack`: curated Parquet → mixture-weighted, packed token shards + manifest.json."""
from __future__ import annotations

import time
from typing import Optional, Sequence

import click

from tokenmill.jobs.run_card import run_card
from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.pack import run_pack
from tokenmill.pipeline.pack_config import PackConfig, pack_config, parse_mixture, tokenizer_config
from tokenmill.pipeline.schema import ConfigError

Phases = list[tuple[float, dict[str, float]]]


def resolve_phases(config: Config, pack: PackConfig, mixture: Optional[dict[str, float]]) -> tuple[Phases, str]:
    """The phases to realise and where their weights came from, first found of: `--mixture`,
    `pack.phases`, `pack.mixture`, `sources.<name>.weight`; else each source by the tokens it holds."""
    if mixture:
        return [(1.0, mixture)], "--mixture"
    if pack.phases:
        return [(p.until, dict(p.weights)) for p in pack.phases], "pack.phases"
    if pack.mixture:
        return [(1.0, dict(pack.mixture))], "pack.mixture"
    if config.sources:
        return [(1.0, {name: s.weight for name, s in config.sources.items()})], "sources.<name>.weight"
    return [(1.0, {})], "tokens available"


def pack(curated: str, tokenizer: str, output: str, config: Optional[Config] = None,
         seq_len: Optional[int] = None, total_tokens: Optional[int] = None,
         mixture: Optional[dict[str, float]] = None, packing: Optional[str] = None,
         runner: Optional[str] = None, workers: Optional[int] = None, beam_args: Sequence[str] = ()) -> dict:
    """Pack `curated` (DIR/curated) with `tokenizer` (tokenizer.json) into `output` (DIR/tokens);
    arguments given here override the config's `pack:` section. Returns the manifest."""
    config = config or Config()
    raw = dict(config.pack)
    for key, value in (("seq_len", seq_len), ("total_tokens", total_tokens), ("packing", packing)):
        if value is not None:
            raw[key] = value
    settings = pack_config(raw, config.origin)
    encoding = tokenizer_config(config.tokenizer, config.origin)
    phases, origin = resolve_phases(config, settings, mixture)
    runs_on = {"name": runner or config.runner.name, "workers": workers or config.runner.workers,
               "options": [*config.runner.options, *beam_args]}
    resolved = {"pack": settings, "tokenizer": encoding, "phases": phases, "weights_from": origin}
    # `curated` as a folder ("/"): on gs:// a name without it matches no object, and the card no input.
    with run_card("pack", output, resolved, [curated.rstrip("/") + "/", tokenizer], runs_on):
        return run_pack(curated, tokenizer, output, settings, phases, origin, encoding.encoder, encoding.threads,
                        encoding.batch_docs, runs_on["name"], runs_on["workers"], runs_on["options"])


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--curated", required=True, help="The curated folder, DIR/curated.")
@click.option("--tokenizer", "tokenizer_path", required=True, type=click.Path(dir_okay=False),
              help="tokenizer.json from `tokenmill tokenizer train`.")
@click.option("--output", "-o", required=True, help="Token folder to write, DIR/tokens (local path or gs://, s3://...).")
@click.option("--seq-len", type=int, help="Tokens a training sequence sees (rows hold seq_len + 1).")
@click.option("--total-tokens", type=int, help="Tokens in all (default: the largest the epoch caps allow).")
@click.option("--mixture", help="Weights in tokens, e.g. web=0.6,books=0.15,wiki=0.25 (default: pack.phases, else pack.mixture, else the sources' weights, else each source by its tokens).")
@click.option("--packing", type=click.Choice(["concat", "bos-bestfit"]), help="Packing mode.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config (pack:, tokenizer:, sources:; default: none, the built-in defaults).")
@click.option("--runner", help="Beam runner for tokenizing, packing and writing (FnApiRunner: local).")
@click.option("--workers", type=int, help="Local worker processes.")
@click.pass_context
def pack_command(ctx, curated, tokenizer_path, output, seq_len, total_tokens, mixture, packing, config_path,
                 runner, workers):
    """Tokenize, pack and mix curated shards into OUTPUT/shard-NNNNN.parquet and OUTPUT/manifest.json.

    Extra arguments are passed to Beam as pipeline options (e.g. --project, --temp_location).
    """
    started = time.monotonic()
    try:
        weights = parse_mixture(mixture) if mixture else None
        manifest = pack(curated, tokenizer_path, output, load_config(config_path), seq_len, total_tokens,
                        weights, packing, runner, workers, ctx.args)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    for name, source in manifest["sources"].items():
        click.echo(f"{name}: {source['documents']:,} documents, {source['tokens_used']:,} of "
                   f"{source['tokens_available']:,} tokens used ({source['epochs']:.2f} epochs, "
                   f"cap {source['epoch_cap']:g}), delivered {manifest['mixture']['delivered'][name]:.4f} "
                   f"of asked {manifest['mixture']['asked'].get(name, 0.0):.4f}")
    click.echo(f"{manifest['total_rows']:,} rows = {manifest['total_tokens']:,} tokens "
               f"({manifest['total_tokens_rule']}) in {len(manifest['shards'])} shards, "
               f"{time.monotonic() - started:.1f} s → {output}/manifest.json")
