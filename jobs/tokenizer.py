"""`tokenmill tokenizer train | encode | decode`: a byte-level BPE tokenizer.json from curated text.

The training sample is drawn in Beam, deterministic and weighted by the mixture: source s gets
`sample_bytes × weight_s` bytes, taken as the documents whose stable hash of (seed, source, id)
falls under the fraction that budget is of the source's text (measured from Parquet footers).
Workers read the ids, then the text of only the row groups holding a chosen document, and write
the sample to a few files; only the sample, about `sample_bytes`, reaches the machine that learns
the merges.

Beside tokenizer.json go tokenizer_config.json and special_tokens_map.json (end-of-text is the eos
and pad token, `model_max_length` is the pack's seq_len), so `transformers.AutoTokenizer` loads the
folder and pads and stops as the trainer does.
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

import click
from tokenizers import Tokenizer

from tokenmill.jobs.pack import resolve_phases
from tokenmill.jobs.run_card import run_card
from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.pack import curated_shards, run_beam
from tokenmill.pipeline.storage import absolute, remove_tree
from tokenmill.pipeline.pack_config import TokenizerConfig, pack_config, parse_mixture, tokenizer_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.mix import average_weights
from tokenmill.transforms.files import write_file
from tokenmill.transforms.tokenize import EOT, DrawSample, byte_decoder, read_json, sample_texts, train_bpe, write_json

SAMPLE_WORK = "_tokenizer_sample"


def save_tokenizer(tokenizer: Tokenizer, output: str, model_max_length: int) -> None:
    """tokenizer.json at `output`, and beside it the two files with which `transformers` knows the
    end-of-text token as eos, bos and pad, and the context length."""
    folder = output.rsplit("/", 1)[0]
    special = {"bos_token": EOT, "eos_token": EOT, "pad_token": EOT}
    write_file(output, tokenizer.to_str(pretty=True).encode("utf-8"))
    write_json(f"{folder}/tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "model_max_length": model_max_length,
        "padding_side": "right",
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {str(tokenizer.token_to_id(EOT)): {
            "content": EOT, "special": True, "lstrip": False, "rstrip": False, "normalized": False,
            "single_word": False}},
    })
    write_json(f"{folder}/special_tokens_map.json", special)


def train_tokenizer(curated: str, output: str, config: Optional[Config] = None, vocab_size: Optional[int] = None,
                    sample_bytes: Optional[int] = None, mixture: Optional[dict[str, float]] = None,
                    runner: Optional[str] = None, workers: Optional[int] = None,
                    beam_args: Sequence[str] = ()) -> dict:
    """Train a tokenizer.json on a mixture-weighted sample of `curated`, drawn on `runner`; returns a summary."""
    config = config or Config()
    raw = dict(config.tokenizer)
    for key, value in (("vocab_size", vocab_size), ("sample_bytes", sample_bytes)):
        if value is not None:
            raw[key] = value
    settings: TokenizerConfig = tokenizer_config(raw, config.origin)
    packing = pack_config(config.pack, config.origin)
    phases, origin = resolve_phases(config, packing, mixture)
    shards = curated_shards(curated)
    # No weights anywhere: each source by the text it holds, as `pack` then mixes them.
    weights = average_weights(phases) if any(weights for _, weights in phases) else {}
    unknown = sorted(s for s, w in weights.items() if w > 0 and s not in shards)
    if unknown:
        raise ConfigError(f"the mixture names {unknown[0]!r}, which has no shards under {curated} "
                          f"(sources: {', '.join(shards)})")
    output = absolute(output)
    folder = output.rsplit('/', 1)[0]
    work = f"{folder}/{SAMPLE_WORK}"
    sampled = [source for source in sorted(shards) if not weights or weights.get(source, 0) > 0]
    # Each sampled source's shards as one pattern: workers list them, and a remote card lists a folder once.
    patterns = [(source, f"{absolute(curated)}/{source}/*.parquet") for source in sampled]
    runs_on = {"name": runner or config.runner.name, "workers": workers or config.runner.workers,
               "options": [*config.runner.options, *beam_args]}
    resolved = {"tokenizer": settings, "weights": weights, "weights_from": origin}
    with run_card("tokenizer", folder, resolved, [pattern for _, pattern in patterns], runs_on):
        remove_tree(work)
        try:
            run_beam(lambda p: p | "DrawSample" >> DrawSample(patterns, weights, settings.sample_bytes,
                                                              settings.seed, work),
                     runs_on["name"], runs_on["workers"], runs_on["options"])
            summary = read_json(f"{work}/sample.json")
            failed = summary["errors"]
            if failed:
                raise ConfigError(failed[0] + (f" (and {len(failed) - 1} more shards)" if len(failed) > 1 else ""))
            tokenizer = train_bpe(sample_texts(summary["files"]), settings.vocab_size, settings.min_frequency)
        finally:
            remove_tree(work)
        save_tokenizer(tokenizer, output, packing.seq_len)
    return {"vocab_size": tokenizer.get_vocab_size(), "eot_id": tokenizer.token_to_id(EOT),
            "sample_bytes": summary["taken"],
            "weights": weights or {s: float(b) for s, b in summary["text_bytes"].items()},
            "weights_from": origin}


@click.group()
def tokenizer_group():
    """Train a byte-level BPE tokenizer on curated text, and inspect its encodings."""


@tokenizer_group.command("train", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--input", "curated", required=True, help="The curated folder, DIR/curated.")
@click.option("--output", "-o", required=True, help="tokenizer.json to write (local path or gs://, s3://...).")
@click.option("--vocab-size", type=int, help="Vocabulary size, end-of-text and 256 bytes included.")
@click.option("--sample-bytes", type=int, help="Bytes of text to train on, split by the mixture.")
@click.option("--mixture", help="Weights of the sample, e.g. web=0.6,books=0.4 (default: the config's).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config (tokenizer:, pack:, sources:; default: none, the built-in defaults).")
@click.option("--runner", help="Beam runner that draws the sample (FnApiRunner: local).")
@click.option("--workers", type=int, help="Local worker processes.")
@click.pass_context
def train_command(ctx, curated, output, vocab_size, sample_bytes, mixture, config_path, runner, workers):
    """Train OUTPUT (tokenizer.json) on a deterministic, mixture-weighted sample of curated shards;
    tokenizer_config.json and special_tokens_map.json are written beside it.

    Extra arguments are passed to Beam as pipeline options (e.g. --project, --temp_location).
    """
    try:
        summary = train_tokenizer(curated, output, load_config(config_path), vocab_size, sample_bytes,
                                  parse_mixture(mixture) if mixture else None, runner, workers, ctx.args)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    sampled = ", ".join(f"{s} {b / 1e6:.2f} MB" for s, b in summary["sample_bytes"].items())
    click.echo(f"trained {summary['vocab_size']:,} tokens ({EOT} = {summary['eot_id']}) on {sampled} → {output}")


def _load(path: str) -> Tokenizer:
    try:
        return Tokenizer.from_file(path)
    except Exception as err:    # tokenizers raises a bare Exception for a bad file
        raise click.ClickException(f"{path}: cannot load the tokenizer ({err})") from None


@tokenizer_group.command("encode")
@click.option("--tokenizer", "path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("text", required=False)
def encode_command(path, text):
    """Print the ids of TEXT (or of standard input), space-separated, then each token."""
    tokenizer = _load(path)
    tokenizer.encode_special_tokens = True
    encoding = tokenizer.encode(sys.stdin.read() if text is None else text, add_special_tokens=False)
    click.echo(" ".join(map(str, encoding.ids)))
    to_byte = byte_decoder()
    pieces = [bytes(to_byte[c] for c in token) for token in encoding.tokens]
    click.echo(" ".join(repr(_readable(piece)) for piece in pieces))


def _readable(piece: bytes) -> str | bytes:
    """A token's text, or its bytes where it holds part of a multi-byte character."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return piece


@tokenizer_group.command("decode")
@click.option("--tokenizer", "path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.argument("ids", nargs=-1, type=int, required=True)
def decode_command(path, ids):
    """Print the text of IDS."""
    click.echo(_load(path).decode(list(ids), skip_special_tokens=False))
