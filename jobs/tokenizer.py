"""`tokenmill tokenizer train | encode | decode`: a byte-level BPE tokenizer.json from curated text.

The training sample is deterministic and weighted by the mixture: source s gets
`sample_bytes × weight_s` bytes, taken as the documents whose stable hash of (seed, source, id)
falls under the fraction that budget is of the source's text (measured from Parquet metadata).
"""
from __future__ import annotations

import os
import sys
from typing import Iterator, Optional

import click
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from tokenmill.filters.document import stable_hash
from tokenmill.jobs.pack import resolve_phases
from tokenmill.jobs.run_card import run_card
from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.pack import curated_shards
from tokenmill.pipeline.pack_config import TokenizerConfig, pack_config, parse_mixture, tokenizer_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.pack import average_weights
from tokenmill.transforms.tokenize import EOT, byte_decoder, train_bpe

HASH_SPACE = 2 ** 64


def text_bytes(paths: list[str]) -> int:
    """The uncompressed size of the `text` column of these shards, from their metadata."""
    total = 0
    for path in paths:
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for column in range(row_group.num_columns):
                if row_group.column(column).path_in_schema == "text":
                    total += row_group.column(column).total_uncompressed_size
    return total


def sample_texts(shards: dict[str, list[str]], weights: dict[str, float], sample_bytes: int, seed: int,
                 taken: dict[str, int]) -> Iterator[str]:
    """Texts of the weighted sample, source by source; `taken` receives the bytes per source."""
    total = sum(w for s, w in weights.items() if s in shards)
    for source in sorted(s for s in shards if weights.get(s, 0) > 0):
        size = text_bytes(shards[source])
        keep = min(1.0, sample_bytes * weights[source] / total / size) if size else 0.0
        threshold = int(keep * HASH_SPACE)
        taken[source] = 0
        for path in shards[source]:
            for batch in pq.ParquetFile(path).iter_batches(columns=["id", "text"], batch_size=2048):
                for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                    if text and stable_hash(str(seed), source, doc_id) < threshold:
                        taken[source] += len(text.encode("utf-8", "surrogatepass"))
                        yield text


def train_tokenizer(curated: str, output: str, config: Optional[Config] = None, vocab_size: Optional[int] = None,
                    sample_bytes: Optional[int] = None, mixture: Optional[dict[str, float]] = None) -> dict:
    """Train a tokenizer.json on a mixture-weighted sample of `curated`; returns a summary."""
    config = config or Config()
    raw = dict(config.tokenizer)
    for key, value in (("vocab_size", vocab_size), ("sample_bytes", sample_bytes)):
        if value is not None:
            raw[key] = value
    settings: TokenizerConfig = tokenizer_config(raw, config.origin)
    phases, origin = resolve_phases(config, pack_config(config.pack, config.origin), mixture)
    shards = curated_shards(curated)
    if any(weights for _, weights in phases):
        weights = average_weights(phases)
    else:   # no weights anywhere: each source by the text it holds, as `pack` then mixes them
        weights = {source: float(text_bytes(paths)) for source, paths in shards.items()}
    unknown = sorted(s for s, w in weights.items() if w > 0 and s not in shards)
    if unknown:
        raise ConfigError(f"the mixture names {unknown[0]!r}, which has no shards under {curated} "
                          f"(sources: {', '.join(shards)})")
    taken: dict[str, int] = {}
    resolved = {"tokenizer": settings, "weights": weights, "weights_from": origin}
    inputs = [path for paths in shards.values() for path in paths]
    with run_card("tokenizer", os.path.dirname(os.path.abspath(output)), resolved, inputs, {"name": "local"}):
        tokenizer = train_bpe(sample_texts(shards, weights, settings.sample_bytes, settings.seed, taken),
                              settings.vocab_size, settings.min_frequency)
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        tokenizer.save(output)
    return {"vocab_size": tokenizer.get_vocab_size(), "eot_id": tokenizer.token_to_id(EOT),
            "sample_bytes": taken, "weights": weights, "weights_from": origin}


@click.group()
def tokenizer_group():
    """Train a byte-level BPE tokenizer on curated text, and inspect its encodings."""


@tokenizer_group.command("train")
@click.option("--input", "curated", required=True, help="The curated folder, DIR/curated.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="tokenizer.json to write.")
@click.option("--vocab-size", type=int, help="Vocabulary size, end-of-text and 256 bytes included (default 32768).")
@click.option("--sample-bytes", type=int, help="Bytes of text to train on, split by the mixture (default 100 MB).")
@click.option("--mixture", help="Weights of the sample, e.g. web=0.6,books=0.4 (default: the config's).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config (tokenizer:, pack:, sources:).")
def train_command(curated, output, vocab_size, sample_bytes, mixture, config_path):
    """Train OUTPUT (tokenizer.json) on a deterministic, mixture-weighted sample of curated shards."""
    try:
        summary = train_tokenizer(curated, output, load_config(config_path), vocab_size, sample_bytes,
                                  parse_mixture(mixture) if mixture else None)
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
