"""curated/ → tokens/: tokenize and pack in Beam, mix from counts, write the shards in Beam, + manifest.

1. Beam tokenizes and packs every curated shard in a worker (a pack group: its documents in id
   order) into a rows file under OUTPUT/_work; only counts reach the launcher (`PackGroup`).
2. The launcher plans the mixture from those counts alone: how many rows each phase takes from
   each source (epoch caps checked), into a small `MixPlan`.
3. Beam writes each output shard in a worker, which computes which row of which source sits at
   each of its positions and reads exactly those rows from the rows files.
Every file is opened through Beam's FileSystems, so the curated, work and token folders may be
local or gs://, s3://, hdfs://. The launcher holds counts: a few numbers per curated shard.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tokenmill.pipeline.pack_config import MAX_TOKEN_ID, PackConfig, epoch_cap
from tokenmill.pipeline.runner import check_options, make_runner, pipeline_options
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.storage import absolute, delete_matching, remove_tree
from tokenmill.transforms.files import sweep
from tokenmill.transforms.formats.common import open_raw
from tokenmill.transforms.mix import MixPlan, PhasePlan, WriteMixedShards, plan_mixture, read_shards, rows_needed
from tokenmill.transforms.pack import PackGroup, PackGroups, TokenizePackFn, groups_file, read_groups
from tokenmill.transforms.tokenize import EOT, CuratedShardError, Encoder, curated_batches, write_json

WORK = "_work"


def curated_shards(curated: str) -> dict[str, list[str]]:
    """{source: its part-*.parquet paths, sorted} from DIR/curated/<source>/, through FileSystems."""
    curated = absolute(curated)
    if FileSystems.exists(f"{curated}/ledger.json"):
        raise ConfigError(f"{curated}: this is a curate output folder; pass its curated/ folder, {curated}/curated")
    matched = FileSystems.match([f"{curated}/*/*.parquet"])[0].metadata_list
    sources: dict[str, list[str]] = {}
    for path in sorted(m.path for m in matched):
        sources.setdefault(path.rsplit("/", 2)[-2], []).append(path)
    if not sources:
        if not FileSystems.get_scheme(curated) and not os.path.isdir(curated):
            raise ConfigError(f"{curated}: no such curated folder (run `tokenmill curate` first)")
        raise ConfigError(f"{curated}: no <source>/*.parquet shards in this folder")
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
        try:
            with open_raw(paths[0]) as handle:
                for batch in curated_batches(handle, paths[0], 16):
                    ids += batch.column("id").to_pylist()
                    texts += [text or "" for text in batch.column("text").to_pylist()]
                    size += sum(map(len, texts[-batch.num_rows:]))
                    if size >= sample_chars:
                        break
        except CuratedShardError as err:
            raise ConfigError(str(err)) from None
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
            with open_raw(path) as handle:
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
        if vocab_size > MAX_TOKEN_ID + 1:
            raise ConfigError(f"{path}: ids up to {vocab_size - 1:,}; token rows hold int32 ids, "
                              f"at most {MAX_TOKEN_ID:,}")
        return cls(raw.decode("utf-8"), hashlib.sha256(raw).hexdigest(), vocab_size, added[EOT])


def run_beam(build, runner: str, workers: int, beam_args: Sequence[str]) -> None:
    """Run the graph that `build(pipeline)` adds, on `runner`, to the end."""
    options = pipeline_options(runner, workers, list(beam_args))
    check_options(runner, options)
    pipeline = beam.Pipeline(runner=make_runner(runner), options=options)
    build(pipeline)
    pipeline.run().wait_until_finish()


def clear_tokens(output: str) -> None:
    """Remove a previous run's shards and manifest, and what a killed writer left, so no stale shard
    survives; called only once the new run is sure to write its own."""
    delete_matching([f"{output}/shard-*.parquet", f"{output}/manifest.json"])
    sweep(output)


@dataclass
class SourceTotals:
    """A source's pack groups, summed."""
    groups: int = 0
    rows: int = 0
    documents: int = 0
    empty_documents: int = 0
    text_bytes: int = 0
    tokens: int = 0
    dropped: int = 0
    dropped_at_end: int = 0

    def add(self, group: PackGroup) -> None:
        self.groups += 1
        for name in ("rows", "documents", "empty_documents", "text_bytes", "tokens", "dropped", "dropped_at_end"):
            setattr(self, name, getattr(self, name) + getattr(group, name))


def source_totals(groups: list[PackGroup], names: list[str]) -> dict[str, SourceTotals]:
    """Each source's pack groups summed; a failed shard is a ConfigError."""
    failed = [g for g in groups if g.error]
    if failed:
        more = f" (and {len(failed) - 1} more shards)" if len(failed) > 1 else ""
        raise ConfigError(failed[0].error + more)
    totals = {name: SourceTotals() for name in names}
    for group in groups:
        totals[group.source].add(group)
    return totals


def run_pack(curated: str, tokenizer_path: str, output: str, config: PackConfig,
             phases: list[tuple[float, dict[str, float]]], mixture_origin: str, encoder_kind: str = "tiktoken",
             threads: int = 2, batch_docs: int = 1024, runner: str = "FnApiRunner", workers: int = 1,
             beam_args: Sequence[str] = ()) -> dict:
    """Tokenize, pack and mix `curated` into `output`; returns the manifest.

    `phases` is [(until, {source: weight})]; an empty weight map means "each source by the tokens
    it holds". `mixture_origin` says where the weights came from, for the manifest."""
    tokenizer = TokenizerInfo.load(absolute(tokenizer_path))
    shards = curated_shards(curated)
    output = absolute(output)
    weighted = sorted({s for _, weights in phases for s, w in weights.items() if w > 0}) or sorted(shards)
    missing = [s for s in weighted if s not in shards]
    if missing:
        raise ConfigError(f"the mixture names {missing[0]!r}, which has no shards under {curated} "
                          f"(sources: {', '.join(shards)})")
    shards = {s: shards[s] for s in weighted}
    phases = [(until, {s: w for s, w in weights.items() if s in shards}) for until, weights in phases]
    width = config.seq_len + 1
    work = f"{output}/{WORK}"
    remove_tree(work)
    try:
        encoder, encoder_check = checked_encoder(tokenizer.json, encoder_kind, threads, shards)
        pack_fn = TokenizePackFn(encoder, work, tokenizer.eot_id, width, config.packing, config.bestfit_buffer,
                                 batch_docs)
        patterns = [(source, f"{absolute(curated)}/{source}/*.parquet") for source in sorted(shards)]
        run_beam(lambda p: p | "PackGroups" >> PackGroups(patterns, pack_fn), runner, workers, beam_args)
        totals = source_totals(read_groups(work), weighted)
        available = {name: totals[name].rows for name in weighted}
        if not any(weights for _, weights in phases):
            phases = [(until, {s: float(available[s]) for s in weighted}) for until, _ in phases]
        caps = {s: epoch_cap(s, config.epochs) for s in weighted}
        total_rows = None if config.total_tokens is None else config.total_tokens // width
        try:
            plans = plan_mixture(phases, available, caps, total_rows, width)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        plan = MixPlan(tuple(weighted), tuple(available[name] for name in weighted), tuple(plans), width,
                       config.seed, config.window_rows)
        clear_tokens(output)
        run_beam(lambda p: p | "WriteShards" >> WriteMixedShards(plan, groups_file(work), output, work,
                                                                  config.rows_per_shard, config.row_group_rows),
                 runner, workers, beam_args)
        shard_list = read_shards(work)
    finally:
        remove_tree(work)
    manifest = build_manifest(tokenizer, config, encoder_check, mixture_origin, totals, caps, plans, weighted,
                              shard_list)
    write_json(f"{output}/manifest.json", manifest)
    return manifest


def build_manifest(tokenizer: TokenizerInfo, config: PackConfig, encoder: str, mixture_origin: str,
                   totals: dict[str, SourceTotals], caps: dict[str, float], plans: list[PhasePlan],
                   names: list[str], shards: list[dict]) -> dict:
    """The manifest, from the counts, the plan and what the shard writers reported."""
    width = config.seq_len + 1
    total = plans[-1].end
    used = {name: rows_needed(plans).get(name, 0) for name in names}
    windows: dict[int, float] = {}
    for shard in shards:
        for number, deviation in shard["window_deviation"]:
            windows[number] = max(windows.get(number, 0.0), deviation)
    asked: dict[str, float] = {}
    phase_entries = []
    for number, plan in enumerate(plans):
        length = plan.end - plan.start
        for name, weight in plan.weights.items():
            asked[name] = asked.get(name, 0.0) + weight * length / total
        phase_entries.append({
            "phase": number, "until": round(plan.end / total, 6), "start_row": plan.start, "end_row": plan.end,
            "weights": _rounded(plan.weights),
            "delivered": _rounded({n: plan.rows.get(n, 0) / length if length else 0.0 for n in names}),
            "max_window_deviation": round(windows.get(number, 0.0), 6),
        })
    delivered = {name: used[name] / total for name in names}
    return {
        "tokenizer": {"sha256": tokenizer.sha256, "vocab_size": tokenizer.vocab_size, "eot_token": EOT,
                      "eot_id": tokenizer.eot_id, "encoder": encoder},
        "seq_len": config.seq_len,
        "row_tokens": width,
        "packing": {"mode": config.packing, "group": "one curated shard, its documents in id order",
                    **({"bestfit_buffer": config.bestfit_buffer} if config.packing == "bos-bestfit" else {})},
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
            "documents": totals[name].documents,
            "empty_documents": totals[name].empty_documents,
            "text_bytes": totals[name].text_bytes,
            "pack_groups": totals[name].groups,
            "tokens_tokenized": totals[name].tokens,
            "tokens_dropped_in_packing": totals[name].dropped,
            "tokens_dropped_at_group_ends": totals[name].dropped_at_end,
            "rows_available": totals[name].rows,
            "tokens_available": totals[name].rows * width,
            "rows_used": used[name],
            "tokens_used": used[name] * width,
            "epochs": round(used[name] / totals[name].rows, 6) if totals[name].rows else 0.0,
            "epoch_cap": caps[name],
            "weight": round(asked.get(name, 0.0), 6),
        } for name in names},
        "phases": phase_entries,
        "shards": [{"path": s["path"], "rows": s["rows"], "sha256": s["sha256"]} for s in shards],
        "total_rows": total,
        "total_tokens": total * width,
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(values.items())}
