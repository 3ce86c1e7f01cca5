"""Assembling the curation graph in three passes (DESIGN.md): stream and stage, decide on keys, apply.

    1. stream:  input file ─► read ─► document stages before dedup (fused) ─► staged Parquet shard
                                                                   └─► keys, ledger events
    2. decide:  keys only ─► exact dedup, near dedup, paragraph dedup ─► verdicts by staged shard
    3. apply:   staged shard + its verdicts ─► quality models' rules ─► document stages after dedup
                ─► curated/, rejected/  (a model's top-fraction cut: from the staged scores that reach it)
    ledger:     events of passes 1 and 3, counted ─► ledger.json; then the staging folder is removed
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tokenmill.pipeline.config import Config
from tokenmill.pipeline.ledger import WriteLedger
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.storage import delete_matching, remove_tree
from tokenmill.pipeline.stages import STAGES, quality_model_rules, settings_for, source_stages
from tokenmill.transforms.apply_verdicts import ApplyVerdicts
from tokenmill.transforms.exact_dedup import ExactDedup
from tokenmill.transforms.formats import ReadOptions
from tokenmill.transforms.join import DocIds
from tokenmill.transforms.near_dedup import NearDedup
from tokenmill.transforms.paragraph_dedup import SIGNAL_TYPES as PARAGRAPH_SIGNALS
from tokenmill.transforms.paragraph_dedup import ParagraphDedup
from tokenmill.transforms.quality_model import ModelStage
from tokenmill.transforms.signature_files import signature_files
from tokenmill.transforms.staging import EVENTS, EXACT, NEAR, PARAGRAPHS, SHARDS, Corpus, NearKeys, Shard, StageShards
from tokenmill.transforms.write import document_schema


@dataclass(frozen=True)
class CuratePlan:
    """Everything the graph needs, resolved and checked before the pipeline starts."""

    output: str
    shards: list[tuple[str, str, str]]       # (source, format, path)
    stages: dict[str, list[str]]             # source -> its stages, in pipeline order
    read_options: dict[str, ReadOptions]
    keep_rejected: bool
    rows_per_shard: int
    sizes: dict[str, int]                    # path -> bytes, as the listing found them


def plan_curation(config: Config, output: str, selected: Optional[list[str]] = None) -> CuratePlan:
    """Expand every glob (a glob that matches nothing is an error now, not an empty run)."""
    if not config.sources:
        raise ConfigError(f"{config.origin}: sources: no source given (use --source NAME=FORMAT:GLOB or a config file)")
    if selected is not None:
        unknown = [s for s in selected if s not in STAGES]
        if unknown:
            raise ConfigError(f"--stages: unknown stage {unknown[0]!r} (expected some of: {', '.join(STAGES)})")
    shards, sizes = [], {}
    for name, source in sorted(config.sources.items()):
        for pattern in source.paths:
            files = matching_files(pattern)
            if not files:
                raise ConfigError(f"{config.origin}: sources.{name}.paths: {pattern!r} matches no file")
            shards.extend((name, source.format, path) for path in files)
            sizes.update(files)
    max_bytes = int(config.curate.max_document_mb * 1_000_000)
    return CuratePlan(
        output=output.rstrip("/"),
        shards=sorted(set(shards)),
        stages={name: source_stages(config, name, selected) for name in config.sources},
        read_options={name: ReadOptions(max_bytes, {"roots": [glob_root(p) for p in s.paths], **s.options})
                      for name, s in config.sources.items()},
        keep_rejected=config.curate.keep_rejected,
        rows_per_shard=config.curate.rows_per_shard,
        sizes=sizes,
    )


def matching_files(pattern: str) -> dict[str, int]:
    """{path: size in bytes} of the files a glob matches; a directory given without a glob stands for
    every file under it."""
    if not any(char in pattern for char in "*?["):
        inside = FileSystems.match([pattern.rstrip("/") + "/**"])[0].metadata_list
        if inside:
            return {m.path: m.size_in_bytes for m in inside if not m.path.endswith("/")}
    return {m.path: m.size_in_bytes for m in FileSystems.match([pattern])[0].metadata_list if not m.path.endswith("/")}


def expand_pattern(pattern: str) -> list[str]:
    """The files a glob matches, sorted (see matching_files)."""
    return sorted(matching_files(pattern))


def glob_root(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard: what paths are relative to."""
    head = pattern.split("*")[0].split("?")[0].split("[")[0]
    return head if head.endswith("/") or not any(c in pattern for c in "*?[") else head.rsplit("/", 1)[0] + "/"


STAGING = "_staging"  # under the output: staged shards and signatures, removed once the ledger is written


def split_document_stages(used: list[str]) -> tuple[list[str], list[str]]:
    """(document stages before the corpus stages: pass 1, document stages after them: pass 3)."""
    corpus = [i for i, name in enumerate(used) if STAGES[name].kind == "corpus"]
    if not corpus:
        return [n for n in used if STAGES[n].kind == "document"], []
    inside = [n for n in used[corpus[0]:corpus[-1]] if STAGES[n].kind == "document"]
    if inside:
        raise ValueError(f"document stage {inside[0]!r} sits between corpus stages; STAGES must group them")
    return used[:corpus[0]], used[corpus[-1] + 1:]


def build_curation(pipeline: beam.Pipeline, config: Config, plan: CuratePlan) -> None:
    """Add the curation graph to `pipeline`: stream and stage (pass 1), decide on keys (pass 2), apply
    the verdicts shard by shard (pass 3), then the ledger. No document text crosses a shuffle."""
    used = [name for name in STAGES if any(name in stages for stages in plan.stages.values())]
    before, after = split_document_stages(used)
    members = {name: frozenset(s for s, stages in plan.stages.items() if name in stages) for name in used}

    def chains(names):
        return {source: [STAGES[n].build(settings_for(config, n, source), config.sources[source])
                         for n in names if n in stages] for source, stages in plan.stages.items()}

    chains_before, chains_after = chains(before), chains(after)
    signal_types: dict[str, str] = {}
    for chain in (*chains_before.values(), *chains_after.values()):
        for doc_filter in chain:
            signal_types.update(doc_filter.signal_types())
    if "paragraph-dedup" in used:
        signal_types.update(PARAGRAPH_SIGNALS)
    models = None
    if "quality-model" in used:
        scoring = settings_for(config, "quality-model")
        models = ModelStage(tuple(quality_model_rules(scoring)), members["quality-model"], scoring.batch_size,
                            scoring.max_chars)
        signal_types.update(models.scorer().signal_types())

    staging = f"{plan.output}/{STAGING}"
    near = settings_for(config, "near-dedup") if "near-dedup" in used else None
    signatures = (near.save_signatures or f"{staging}/signatures").rstrip("/") if near else ""
    paragraph = settings_for(config, "paragraph-dedup") if "paragraph-dedup" in used else None
    earlier = signature_files(near.earlier_signatures) if near else []
    ids = DocIds.for_shards(len(plan.shards) + len(earlier))
    corpus = Corpus(
        ids=ids, exact=members.get("exact-dedup", frozenset()), near=members.get("near-dedup", frozenset()),
        paragraphs=members.get("paragraph-dedup", frozenset()),
        paragraph_min_chars=paragraph.min_chars if paragraph else 0,
        near_keys=NearKeys(near.num_perm, near.seed, near.shingle_words, near.bands, near.rows, near.keep,
                           near.keep_signal, signatures) if near else None,
        models=models, keep_rejected=plan.keep_rejected)
    parts: dict[str, int] = {}
    shards = []
    for index, (source, fmt, path) in enumerate(plan.shards):
        shards.append(Shard(index, source, fmt, path, parts.get(source, 0)))
        parts[source] = parts.get(source, 0) + 1

    # Pass 1: stream every file through the document stages into its staged shard; keys come out.
    staged = pipeline | "Stage" >> StageShards(shards, plan.read_options, chains_before, corpus, staging,
                                               document_schema(signal_types, rejected=True))
    # Pass 2: corpus-wide decisions on keys alone.
    verdicts, notes = [], []
    exact_keepers = pipeline | "NoExactDedup" >> beam.Create([]).with_output_types(int)
    if "exact-dedup" in used:
        exact = staged[EXACT] | "exact-dedup" >> ExactDedup(ids, corpus.near)
        verdicts.append(exact["verdicts"])
        exact_keepers = exact["keepers"]
    if near:
        files = staged[SHARDS] | "SignatureFiles" >> beam.FlatMapTuple(
            lambda index, shard: [(index, shard.signatures)] if shard.signatures else []
        ).with_output_types(tuple[int, str])
        decided = {"entries": staged[NEAR], "members": exact_keepers, "files": files} | "near-dedup" >> NearDedup(
            ids, len(plan.shards), near.bands, near.rows, near.num_perm, near.threshold, near.max_rounds, earlier)
        verdicts.append(decided["verdicts"])
        notes.append(decided["notes"])
    if paragraph:
        removed = (verdicts or [pipeline | "NoRemovals" >> beam.Create([])]) | "Removals" >> beam.Flatten()
        verdicts.append({"keys": staged[PARAGRAPHS],
                         "removed": removed | "RemovedDocs" >> beam.MapTuple(
                             lambda shard, verdict: (ids.uid(shard, verdict.row), None)
                         ).with_output_types(tuple[int, None])}
                        | "paragraph-dedup" >> ParagraphDedup(ids))
    all_verdicts = (verdicts or [pipeline | "NoVerdicts" >> beam.Create([])]) | "AllVerdicts" >> beam.Flatten()
    # Pass 3: each staged shard read once, its verdicts applied, curated/ and rejected/ written.
    applied = ({"shard": staged[SHARDS], "verdict": all_verdicts}
               | "Apply" >> ApplyVerdicts(plan.output, chains_after, corpus.paragraphs, models,
                                          document_schema(signal_types),
                                          document_schema(signal_types, rejected=True) if plan.keep_rejected else None,
                                          plan.rows_per_shard))
    written = ((staged[EVENTS], applied, *notes) | "AllEvents" >> beam.Flatten()
               | "Ledger" >> WriteLedger(plan.output, list(config.sources)))
    _ = written | "ClearStaging" >> beam.Map(lambda _: remove_tree(staging))


def clear_outputs(output: str) -> None:
    """Remove an earlier run's curated/rejected shards and ledger, so no stale file survives."""
    delete_matching([f"{output}/curated/**", f"{output}/rejected/**", f"{output}/{STAGING}/**",
                     f"{output}/ledger.json"])
