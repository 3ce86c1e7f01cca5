"""Assembling the curation graph: read → document stages (fused) and corpus stages → write + ledger."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tokenmill.pipeline.config import Config
from tokenmill.pipeline.ledger import WriteLedger
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.stages import STAGES, settings_for, source_stages
from tokenmill.transforms.filter_chain import ApplyFilters
from tokenmill.transforms.formats import ReadOptions
from tokenmill.transforms.read import ReadShards
from tokenmill.transforms.write import WriteShards


@dataclass(frozen=True)
class CuratePlan:
    """Everything the graph needs, resolved and checked before the pipeline starts."""

    output: str
    shards: list[tuple[str, str, str]]       # (source, format, path)
    stages: dict[str, list[str]]             # source -> its stages, in pipeline order
    read_options: dict[str, ReadOptions]
    keep_rejected: bool
    rows_per_shard: int


def plan_curation(config: Config, output: str, selected: Optional[list[str]] = None) -> CuratePlan:
    """Expand every glob (a glob that matches nothing is an error now, not an empty run)."""
    if not config.sources:
        raise ConfigError(f"{config.origin}: sources: no source given (use --source NAME=FORMAT:GLOB or a config file)")
    if selected is not None:
        unknown = [s for s in selected if s not in STAGES]
        if unknown:
            raise ConfigError(f"--stages: unknown stage {unknown[0]!r} (expected some of: {', '.join(STAGES)})")
    shards = []
    for name, source in sorted(config.sources.items()):
        for pattern in source.paths:
            files = expand_pattern(pattern)
            if not files:
                raise ConfigError(f"{config.origin}: sources.{name}.paths: {pattern!r} matches no file")
            shards.extend((name, source.format, path) for path in files)
    max_bytes = int(config.curate.max_document_mb * 1_000_000)
    return CuratePlan(
        output=output.rstrip("/"),
        shards=sorted(set(shards)),
        stages={name: source_stages(config, name, selected) for name in config.sources},
        read_options={name: ReadOptions(max_bytes, {"roots": [glob_root(p) for p in s.paths], **s.options})
                      for name, s in config.sources.items()},
        keep_rejected=config.curate.keep_rejected,
        rows_per_shard=config.curate.rows_per_shard,
    )


def expand_pattern(pattern: str) -> list[str]:
    """The files a glob matches; a directory given without a glob stands for every file under it."""
    if not any(char in pattern for char in "*?["):
        inside = FileSystems.match([pattern.rstrip("/") + "/**"])[0].metadata_list
        if inside:
            return sorted(m.path for m in inside if not m.path.endswith("/"))
    metadata = FileSystems.match([pattern])[0].metadata_list
    return sorted(m.path for m in metadata if not m.path.endswith("/"))


def glob_root(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard: what paths are relative to."""
    head = pattern.split("*")[0].split("?")[0].split("[")[0]
    return head if head.endswith("/") or not any(c in pattern for c in "*?[") else head.rsplit("/", 1)[0] + "/"


def build_curation(pipeline: beam.Pipeline, config: Config, plan: CuratePlan) -> None:
    """Add the curation graph to `pipeline`."""
    read = pipeline | "Read" >> ReadShards(plan.shards, plan.read_options)
    docs = read["kept"]
    rejected, failed = [read["rejected"]], [read["failed"]]
    signal_types: dict[str, str] = {}

    used = [name for name in STAGES if any(name in stages for stages in plan.stages.values())]
    for kind, group in groupby(used, key=lambda name: STAGES[name].kind):
        names = list(group)
        if kind == "document":
            chains = {source: [STAGES[n].build(settings_for(config, n, source), config.sources[source])
                               for n in names if n in stages]
                      for source, stages in plan.stages.items()}
            for chain in chains.values():
                for doc_filter in chain:
                    signal_types.update(doc_filter.signal_types())
            out = docs | f"Filter[{','.join(names)}]" >> ApplyFilters(chains)
            docs = out["kept"]
            rejected.append(out["rejected"])
            failed.append(out["failed"])
        else:
            for name in names:
                members = {source for source, stages in plan.stages.items() if name in stages}
                transform = STAGES[name].build(settings_for(config, name))
                signal_types.update(getattr(transform, "signal_types", dict)())
                inside, outside = docs | f"Route[{name}]" >> beam.Partition(
                    lambda doc, n, members=members: 0 if doc.source in members else 1, 2)
                out = inside | name >> transform
                docs = (out["kept"], outside) | f"Rejoin[{name}]" >> beam.Flatten()
                rejected.append(out["rejected"])
                if "failed" in out:
                    failed.append(out["failed"])

    all_rejected = rejected | "AllRejected" >> beam.Flatten()
    all_failed = failed | "AllFailed" >> beam.Flatten()
    docs | "WriteCurated" >> WriteShards(f"{plan.output}/curated", signal_types, plan.rows_per_shard)
    if plan.keep_rejected:
        all_rejected | "WriteRejected" >> WriteShards(f"{plan.output}/rejected", signal_types, plan.rows_per_shard,
                                                      rejected=True)
    everything_read = (read["kept"], read["rejected"], read["failed"]) | "AllRead" >> beam.Flatten()
    final = (docs, all_rejected, all_failed) | "AllOutcomes" >> beam.Flatten()
    (everything_read, final) | "Ledger" >> WriteLedger(plan.output, list(config.sources))


def clear_outputs(output: str) -> None:
    """Remove an earlier run's curated/rejected shards and ledger, so no stale file survives."""
    patterns = [f"{output}/curated/**", f"{output}/rejected/**", f"{output}/ledger.json"]
    paths = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
    if paths:
        FileSystems.delete(paths)
