"""curated/ → tokens/: tokenize in Beam, pack each source in id order, mix, write shards + manifest.

1. Beam (FnApiRunner unless told otherwise) tokenizes every curated shard in parallel into a
   raw file of int32 ids and an index of (id, tokens, bytes), under a work folder.
2. Each source's documents are merged back into id order and packed into a file of rows.
3. The mixture plan fixes how many rows each phase takes from each source (epoch caps checked),
   the interleave fixes which source each row slot gets, and a seeded shuffle fixes which of the
   source's rows fills it. Shards are cut from that order and the manifest describes the result.
Memory holds one block of rows, the best-fit buffer or the slot arrays of the run (16 bytes a row).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tokenmill.pipeline.pack_config import PackConfig, epoch_cap
from tokenmill.pipeline.runner import check_options, make_runner, pipeline_options
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.pack import (PackStats, PhasePlan, interleave, merged_documents, pack_bestfit, pack_concat,
                             plan_mixture, window_deviation)
from tokenmill.transforms.tokenize import EOT, Encoder, TokenizeShards, token_paths

WORK = "_work"


def curated_shards(curated: str) -> dict[str, list[str]]:
    """{source: its part-*.parquet paths, sorted} from DIR/curated/<source>/."""
    if not os.path.isdir(curated):
        raise ConfigError(f"{curated}: no such curated folder (run `tokenmill curate` first)")
    if os.path.isfile(os.path.join(curated, "ledger.json")):
        raise ConfigError(f"{curated}: this is a curate output folder; pass its curated/ folder, "
                          f"{os.path.join(curated, 'curated')}")
    sources = {}
    for folder in sorted(os.listdir(curated)):
        paths = sorted(glob.glob(os.path.join(curated, folder, "*.parquet")))
        if paths:
            sources[folder] = paths
    if not sources:
        raise ConfigError(f"{curated}: no <source>/*.parquet shards in this folder")
    for path in (p for paths in sources.values() for p in paths):
        try:
            columns = pq.ParquetFile(path).schema_arrow.names
        except (OSError, pa.ArrowException) as err:
            raise ConfigError(f"{path}: not a readable Parquet file ({err})") from None
        missing = {"id", "text"} - set(columns)
        if missing:
            raise ConfigError(f"{path}: not a curated shard (no {', '.join(sorted(missing))} column)")
    return sources


def checked_encoder(tokenizer_json: str, kind: str, threads: int, shards: dict[str, list[str]],
                    sample_chars: int = 65536) -> tuple[Encoder, str]:
    """The encoder to run, and what the check found: tiktoken is used only if it gives the ids of
    `tokenizers` on the first documents (`sample_chars` of text) of every source; else `tokenizers` is."""
    if kind == "hf":
        return Encoder(tokenizer_json, "hf", threads), "tokenizers, as configured"
    fast, reference = Encoder(tokenizer_json, "tiktoken", threads), Encoder(tokenizer_json, "hf")
    try:
        fast.encode_batch([""])
    except (KeyError, ValueError) as err:
        return reference, f"tokenizers: tiktoken cannot take this vocabulary ({err!r})"
    for source, paths in sorted(shards.items()):
        ids, texts, size = [], [], 0
        for batch in pq.ParquetFile(paths[0]).iter_batches(batch_size=16, columns=["id", "text"]):
            for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                ids.append(doc_id)
                texts.append(text or "")
                size += len(texts[-1])
            if size >= sample_chars:
                break
        for doc_id, a, b in zip(ids, fast.encode_batch(texts), reference.encode_batch(texts)):
            if a != b:
                return reference, f"tokenizers: tiktoken's ids differed on {source} document {doc_id}"
    return fast, "tiktoken: same ids as tokenizers on the first documents of each source"


@dataclass
class TokenizerInfo:
    json: str
    sha256: str
    vocab_size: int
    eot_id: int

    @classmethod
    def load(cls, path: str) -> "TokenizerInfo":
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
            model = json.loads(raw)
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot read the tokenizer ({err})") from None
        is_bpe = isinstance(model, dict) and isinstance(model.get("model"), dict) and model["model"].get("type") == "BPE"
        added = {t["content"]: t["id"] for t in model.get("added_tokens", [])} if is_bpe else {}
        if EOT not in added:
            raise ConfigError(f"{path}: not a byte-level BPE tokenizer with {EOT} (train one with "
                              f"`tokenmill tokenizer train`)")
        vocab_size = max([*model["model"]["vocab"].values(), *added.values()]) + 1
        return cls(raw.decode("utf-8"), hashlib.sha256(raw).hexdigest(), vocab_size, added[EOT])


def tokenize(shards: dict[str, list[str]], encoder: Encoder, work: str, batch_docs: int,
             runner: str = "FnApiRunner", workers: int = 1, beam_args: Sequence[str] = ()) -> None:
    """Tokenize every curated shard into `work` on Beam."""
    for source in shards:
        os.makedirs(os.path.join(work, source), exist_ok=True)
    options = pipeline_options(runner, workers, list(beam_args))
    check_options(runner, options)
    elements = [(source, path) for source, paths in sorted(shards.items()) for path in paths]
    with beam.Pipeline(runner=make_runner(runner), options=options) as pipeline:
        _ = pipeline | "TokenizeCurated" >> TokenizeShards(elements, encoder, work, batch_docs)


@dataclass
class PackedSource:
    path: str            # raw int32 rows, `width` ids each
    rows: int
    stats: PackStats
    read: int            # curated documents read (those with empty text get no tokens)
    text_bytes: int      # UTF-8 bytes of the documents tokenized


def pack_source(source: str, paths: list[str], work: str, eot: int, width: int, config: PackConfig) -> PackedSource:
    """Merge a source's tokenized shards into id order and pack them into a rows file."""
    pairs = [token_paths(work, source, path) for path in paths]
    docs = (ids for _, ids in merged_documents(pairs))
    stats = PackStats()
    if config.packing == "bos-bestfit":
        blocks = pack_bestfit(docs, eot, width, config.bestfit_buffer, stats)
    else:
        blocks = pack_concat(docs, eot, width, stats)
    out = os.path.join(work, f"{source}.rows")
    rows = 0
    with open(out, "wb") as handle:
        for block in blocks:
            handle.write(np.ascontiguousarray(block, dtype=np.int32).tobytes())
            rows += len(block)
    read = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    text_bytes = sum(pq.read_table(index, columns=["bytes"]).column("bytes").to_numpy().sum() for _, index in pairs)
    return PackedSource(out, rows, stats, read, int(text_bytes))


def row_order(plans: list[PhasePlan], available: dict[str, int], names: list[str],
              seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source index, row within the source's rows, phase) of every output row, in training order.

    A source's rows are used in pack order, epoch after epoch; each phase takes the next ones and
    shuffles them (seeded by seed, phase and source) over the slots the interleave gave it."""
    used = {name: 0 for name in names}
    sources, rows, phases = [], [], []
    for number, plan in enumerate(plans):
        counts = [plan.rows.get(name, 0) for name in names]
        slots = interleave(counts)
        picks = np.empty(len(slots), dtype=np.int64)
        for index, name in enumerate(names):
            if counts[index]:
                taken = (used[name] + np.arange(counts[index])) % available[name]
                rng = np.random.default_rng([seed, number, index])
                picks[slots == index] = rng.permutation(taken)
                used[name] += counts[index]
        sources.append(slots)
        rows.append(picks)
        phases.append(np.full(len(slots), number, dtype=np.int32))
    return np.concatenate(sources), np.concatenate(rows), np.concatenate(phases)


def write_shards(output: str, packed: dict[str, PackedSource], names: list[str], order: tuple, width: int,
                 config: PackConfig) -> list[dict]:
    """Cut the ordered rows into zstd Parquet shards; returns [{path, rows, sha256}]."""
    sources, rows, phases = order
    files = {name: np.memmap(packed[name].path, dtype=np.int32, mode="r", shape=(packed[name].rows, width))
             for name in names if packed[name].rows}
    label = np.array(names, dtype=object)
    shards = []
    for number, start in enumerate(range(0, len(rows), config.rows_per_shard)):
        end = min(start + config.rows_per_shard, len(rows))
        block = np.empty((end - start, width), dtype=np.int32)
        for index, name in enumerate(names):
            mask = sources[start:end] == index
            if mask.any():
                block[mask] = files[name][rows[start:end][mask]]
        offsets = np.arange(0, (end - start + 1) * width, width, dtype=np.int32)
        table = pa.table({
            "tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(block.reshape(-1))),
            "source": pa.array(label[sources[start:end]].tolist(), type=pa.string()),
            "phase": pa.array(phases[start:end], type=pa.int32()),
        })
        name = f"shard-{number:05d}.parquet"
        path = os.path.join(output, name)
        pq.write_table(table, path, compression="zstd", row_group_size=config.row_group_rows)
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        shards.append({"path": name, "rows": end - start, "sha256": digest})
    return shards


def clear_tokens(output: str) -> None:
    """Remove a previous run's shards and manifest, so no stale shard survives; called only once
    the new run is sure to write its own."""
    for path in glob.glob(os.path.join(output, "shard-*.parquet")) + glob.glob(os.path.join(output, "manifest.json")):
        os.remove(path)


def run_pack(curated: str, tokenizer_path: str, output: str, config: PackConfig,
             phases: list[tuple[float, dict[str, float]]], mixture_origin: str, encoder_kind: str = "tiktoken",
             threads: int = 2, batch_docs: int = 1024, runner: str = "FnApiRunner", workers: int = 1,
             beam_args: Sequence[str] = ()) -> dict:
    """Tokenize, pack and mix `curated` into `output`; returns the manifest.

    `phases` is [(until, {source: weight})]; an empty weight map means "each source by the tokens
    it holds". `mixture_origin` says where the weights came from, for the manifest."""
    tokenizer = TokenizerInfo.load(tokenizer_path)
    shards = curated_shards(curated)
    weighted = sorted({s for _, weights in phases for s, w in weights.items() if w > 0}) or sorted(shards)
    missing = [s for s in weighted if s not in shards]
    if missing:
        raise ConfigError(f"the mixture names {missing[0]!r}, which has no shards under {curated} "
                          f"(sources: {', '.join(shards)})")
    shards = {s: shards[s] for s in weighted}
    phases = [(until, {s: w for s, w in weights.items() if s in shards}) for until, weights in phases]
    width = config.seq_len + 1
    os.makedirs(output, exist_ok=True)
    work = os.path.abspath(os.path.join(output, WORK))
    shutil.rmtree(work, ignore_errors=True)
    try:
        encoder, encoder_check = checked_encoder(tokenizer.json, encoder_kind, threads, shards)
        tokenize(shards, encoder, work, batch_docs, runner, workers, beam_args)
        packed = {s: pack_source(s, paths, work, tokenizer.eot_id, width, config) for s, paths in shards.items()}
        available = {s: p.rows for s, p in packed.items()}
        if not any(weights for _, weights in phases):
            phases = [(until, {s: float(available[s]) for s in weighted}) for until, _ in phases]
        caps = {s: epoch_cap(s, config.epochs) for s in weighted}
        total_rows = None if config.total_tokens is None else config.total_tokens // width
        try:
            plans = plan_mixture(phases, available, caps, total_rows, width)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        order = row_order(plans, available, weighted, config.seed)
        clear_tokens(output)
        shard_list = write_shards(output, packed, weighted, order, width, config)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    manifest = build_manifest(tokenizer, config, encoder_check, mixture_origin, packed, caps, plans, weighted,
                              order[0], shard_list)
    with open(os.path.join(output, "manifest.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def build_manifest(tokenizer: TokenizerInfo, config: PackConfig, encoder: str, mixture_origin: str,
                   packed: dict[str, PackedSource], caps: dict[str, float], plans: list[PhasePlan],
                   names: list[str], sources: np.ndarray, shards: list[dict]) -> dict:
    width = config.seq_len + 1
    total = len(sources)
    used = {name: int(np.count_nonzero(sources == index)) for index, name in enumerate(names)}
    asked: dict[str, float] = {}
    phase_entries = []
    for number, plan in enumerate(plans):
        length = plan.end - plan.start
        for name, weight in plan.weights.items():
            asked[name] = asked.get(name, 0.0) + weight * length / total
        slots = sources[plan.start:plan.end]
        shares = np.array([plan.weights.get(name, 0.0) for name in names])
        phase_entries.append({
            "phase": number, "until": round(plan.end / total, 6), "start_row": plan.start, "end_row": plan.end,
            "weights": _rounded(plan.weights),
            "delivered": _rounded({n: plan.rows.get(n, 0) / length if length else 0.0 for n in names}),
            "max_window_deviation": round(window_deviation(slots, shares, config.window_rows), 6),
        })
    delivered = {name: used[name] / total for name in names}
    return {
        "tokenizer": {"sha256": tokenizer.sha256, "vocab_size": tokenizer.vocab_size, "eot_token": EOT,
                      "eot_id": tokenizer.eot_id, "encoder": encoder},
        "seq_len": config.seq_len,
        "row_tokens": width,
        "packing": {"mode": config.packing, **({"bestfit_buffer": config.bestfit_buffer}
                                               if config.packing == "bos-bestfit" else {})},
        "seed": config.seed,
        "mixture": {
            "origin": mixture_origin,
            "asked": _rounded(asked),
            "delivered": _rounded(delivered),
            "max_deviation": round(max(abs(delivered[n] - asked.get(n, 0.0)) for n in names), 6),
            "window_rows": config.window_rows,
            "max_window_deviation": max(p["max_window_deviation"] for p in phase_entries),
        },
        "total_tokens_asked": config.total_tokens,
        "total_tokens_rule": ("as asked, rounded down to whole rows" if config.total_tokens is not None
                              else "largest total the epoch caps allow"),
        "sources": {name: {
            "documents": packed[name].stats.documents,
            "empty_documents": packed[name].read - packed[name].stats.documents,
            "text_bytes": packed[name].text_bytes,
            "tokens_tokenized": packed[name].stats.tokens,
            "tokens_dropped_in_packing": packed[name].stats.dropped,
            "rows_available": packed[name].rows,
            "tokens_available": packed[name].rows * width,
            "rows_used": used[name],
            "tokens_used": used[name] * width,
            "epochs": round(used[name] / packed[name].rows, 6) if packed[name].rows else 0.0,
            "epoch_cap": caps[name],
            "weight": round(asked.get(name, 0.0), 6),
        } for name in names},
        "phases": phase_entries,
        "shards": shards,
        "total_rows": total,
        "total_tokens": total * width,
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(values.items())}
