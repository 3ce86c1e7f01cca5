"""Assembling the curation graph in three passes (DESIGN.md): stream and stage, decide on keys, apply.

    0. plan:    list every glob once ─► OUT/_staging/inputs.parquet (the manifest: one row a file);
                the graph names the manifest, so its size does not depend on the number of files
    1. stream:  input file ─► read ─► document stages before dedup (fused) ─► staged Parquet shard
                                                                   └─► keys, ledger events, receipt
    2. decide:  keys only ─► exact dedup, near dedup, paragraph dedup ─► verdicts by staged shard
    3. apply:   staged shard + its verdicts ─► quality models' rules ─► document stages after dedup
                ─► _staging/curated/, _staging/rejected/  (a model's top-fraction cut: from the staged
                scores that reach it)
    ledger:     events of passes 1 and 3, counted ─► ledger.json; then curated/, rejected/ and the
                ledger replace the previous run's, and the staging folder is removed

Where a second job is cheap (the local runner in one process, jobs/curate.py) pass 1 first runs alone
(`build_pass_one`) and counts the documents near dedup will compare; the whole graph then replays its
receipts and holds only the component rounds that count needs (`component_rounds`).

A run that stops early leaves its staging folder: the rerun of the same command replays each staged
shard whose input file (path, size, modification time) and pass-1 settings are unchanged
(transforms/staging.py's receipts), reads only the others, and publishes nothing until its own
ledger is written, so curated/ never mixes two runs' shards.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems

from tokenmill.pipeline.config import Config
from tokenmill.pipeline.ledger import LEDGER_FILE, WriteLedger
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.storage import delete_matching, move_tree, remove_tree
from tokenmill.pipeline.stages import (STAGES, NearDedupSettings, ParagraphDedupSettings, quality_model_rules,
                                      settings_for, source_stages)
from tokenmill.transforms.apply_verdicts import ApplyVerdicts
from tokenmill.transforms.components import rounds_for
from tokenmill.transforms.exact_dedup import ExactDedup
from tokenmill.transforms.files import read_lines, replace, sweep, write_file
from tokenmill.transforms.formats import ReadOptions
from tokenmill.transforms.join import DocIds
from tokenmill.transforms.near_dedup import NearDedup
from tokenmill.transforms.paragraph_dedup import SIGNAL_TYPES as PARAGRAPH_SIGNALS
from tokenmill.transforms.paragraph_dedup import ParagraphDedup
from tokenmill.transforms.quality_model import ModelStage
from tokenmill.transforms.signature_files import signature_files, signature_rows
from tokenmill.transforms.staging import (EVENTS, EXACT, NEAR, PARAGRAPHS, SHARDS, Corpus, NearKeys, Shard, StageShards,
                                          write_manifest)
from tokenmill.transforms.write import document_schema


@dataclass(frozen=True)
class CuratePlan:
    """Everything the graph needs, resolved and checked before the pipeline starts. `inputs` (the
    listing, in index order) and `earlier_signatures` stay on the launcher: they go to the manifests
    the workers read, not into the graph."""

    output: str
    inputs: list[Shard]
    patterns: list[str]                      # every source's globs, as given
    stages: dict[str, list[str]]             # source -> its stages, in pipeline order
    read_options: dict[str, ReadOptions]
    keep_rejected: bool
    rows_per_shard: int
    earlier_signatures: list[str]            # earlier runs' signature files near-dedup compares against

    @property
    def total_bytes(self) -> int:
        return sum(shard.size for shard in self.inputs)


def plan_curation(config: Config, output: str, selected: Optional[list[str]] = None) -> CuratePlan:
    """List every glob once (a glob that matches nothing is an error now, not an empty run)."""
    if not config.sources:
        raise ConfigError(f"{config.origin}: sources: no source given (use --source NAME=FORMAT:GLOB or a config file)")
    listing: dict[str, list[FileMetadata]] = {}
    for name, source in sorted(config.sources.items()):
        for pattern in source.paths:
            files = matching_files(pattern)
            if not files:
                raise ConfigError(f"{config.origin}: sources.{name}.paths: {pattern!r} matches no file")
            listing.setdefault(name, []).extend(files)
    return plan_from_listing(config, output, listing, selected)


def plan_from_listing(config: Config, output: str, listing: dict[str, list[FileMetadata]],
                      selected: Optional[list[str]] = None) -> CuratePlan:
    """The plan for the files `listing` found for each source: each file's index is its place in
    (source, format, path) order, its part its place within its source."""
    if selected is not None:
        unknown = [s for s in selected if s not in STAGES]
        if unknown:
            raise ConfigError(f"--stages: unknown stage {unknown[0]!r} (expected some of: {', '.join(STAGES)})")
    found = {(name, config.sources[name].format, m.path): m for name, files in listing.items() for m in files}
    inputs, parts = [], {}
    for index, (name, fmt, path) in enumerate(sorted(found)):
        metadata = found[name, fmt, path]
        inputs.append(Shard(index, name, fmt, path, parts.get(name, 0), metadata.size_in_bytes,
                            metadata.last_updated_in_seconds))
        parts[name] = parts.get(name, 0) + 1
    max_bytes = int(config.curate.max_document_mb * 1_000_000)
    stages = {name: source_stages(config, name, selected) for name in config.sources}
    near_dedup = any("near-dedup" in chain for chain in stages.values())
    return CuratePlan(
        output=output.rstrip("/"),
        inputs=inputs,
        patterns=[p for _, s in sorted(config.sources.items()) for p in s.paths],
        stages=stages,
        read_options={name: ReadOptions(max_bytes, {"roots": [glob_root(p) for p in s.paths], **s.options})
                      for name, s in config.sources.items()},
        keep_rejected=config.curate.keep_rejected,
        rows_per_shard=config.curate.rows_per_shard,
        earlier_signatures=signature_files(settings_for(config, "near-dedup").earlier_signatures) if near_dedup else [],
    )


def matching_files(pattern: str) -> list[FileMetadata]:
    """The files a glob matches (path, size, modification time); a directory given without a glob
    stands for every file under it."""
    if not any(char in pattern for char in "*?["):
        inside = FileSystems.match([pattern.rstrip("/") + "/**"])[0].metadata_list
        if inside:
            return [m for m in inside if not m.path.endswith("/")]
    return [m for m in FileSystems.match([pattern])[0].metadata_list if not m.path.endswith("/")]


def expand_pattern(pattern: str) -> list[str]:
    """The files a glob matches, sorted (see matching_files)."""
    return sorted(m.path for m in matching_files(pattern))


def glob_root(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard: what paths are relative to."""
    head = pattern.split("*")[0].split("?")[0].split("[")[0]
    return head if head.endswith("/") or not any(c in pattern for c in "*?[") else head.rsplit("/", 1)[0] + "/"


STAGING = "_staging"  # under the output: the manifest, staged shards, receipts, signatures and pass 3's outputs
MANIFEST = "inputs.parquet"
EARLIER_SIGNATURES = "earlier-signatures.txt"  # one path a line, in the order near-dedup numbers them
NEAR_NODES = "near-dedup-nodes.txt"  # pass 1's bound on the documents near dedup compares (build_pass_one)


def staging_folder(output: str) -> str:
    return f"{output}/{STAGING}"


def manifest_path(output: str) -> str:
    return f"{staging_folder(output)}/{MANIFEST}"


def earlier_signatures_path(output: str) -> str:
    return f"{staging_folder(output)}/{EARLIER_SIGNATURES}"


def near_nodes_path(output: str) -> str:
    return f"{staging_folder(output)}/{NEAR_NODES}"


def split_document_stages(used: list[str]) -> tuple[list[str], list[str]]:
    """(document stages before the corpus stages: pass 1, document stages after them: pass 3)."""
    corpus = [i for i, name in enumerate(used) if STAGES[name].kind == "corpus"]
    if not corpus:
        return [n for n in used if STAGES[n].kind == "document"], []
    inside = [n for n in used[corpus[0]:corpus[-1]] if STAGES[n].kind == "document"]
    if inside:
        raise ValueError(f"document stage {inside[0]!r} sits between corpus stages; STAGES must group them")
    return used[:corpus[0]], used[corpus[-1] + 1:]


@dataclass(frozen=True)
class _Stages:
    """What the graph's passes share: the stages in use, split around the corpus stages and built per
    source, the corpus stages' settings and the signals' types."""

    used: list[str]
    chains_before: dict
    chains_after: dict
    signal_types: dict[str, str]
    models: Optional[ModelStage]
    corpus: Corpus
    near: Optional[NearDedupSettings]
    paragraph: Optional[ParagraphDedupSettings]


def _stages(config: Config, plan: CuratePlan) -> _Stages:
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

    staging = staging_folder(plan.output)
    near = settings_for(config, "near-dedup") if "near-dedup" in used else None
    signatures = (near.save_signatures or f"{staging}/signatures").rstrip("/") if near else ""
    paragraph = settings_for(config, "paragraph-dedup") if "paragraph-dedup" in used else None
    corpus = Corpus(
        ids=DocIds.for_shards(len(plan.inputs) + len(plan.earlier_signatures)),
        exact=members.get("exact-dedup", frozenset()), near=members.get("near-dedup", frozenset()),
        paragraphs=members.get("paragraph-dedup", frozenset()),
        paragraph_min_chars=paragraph.min_chars if paragraph else 0,
        near_keys=NearKeys(near.num_perm, near.seed, near.shingle_words, near.bands, near.rows, near.keep,
                           near.keep_signal, signatures) if near else None,
        models=models, keep_rejected=plan.keep_rejected)
    return _Stages(used, chains_before, chains_after, signal_types, models, corpus, near, paragraph)


def _stage_shards(pipeline: beam.Pipeline, config: Config, plan: CuratePlan, stages: _Stages):
    """Pass 1: every file streamed through the document stages into its staged shard; keys come out."""
    before, _ = split_document_stages(stages.used)
    staged_schema = document_schema(stages.signal_types, rejected=True)
    settings = {source: pass_one_fingerprint(config, plan, source, before, stages.corpus, staged_schema)
                for source in plan.stages}
    return pipeline | "Stage" >> StageShards(manifest_path(plan.output), plan.read_options, stages.chains_before,
                                             stages.corpus, staging_folder(plan.output), staged_schema, settings)


def build_pass_one(pipeline: beam.Pipeline, config: Config, plan: CuratePlan) -> None:
    """Pass 1 of a run with near dedup as a job of its own, and a bound on the documents near dedup
    will compare (this run's with band keys, earlier runs' signatures) written to the staging folder:
    the full graph that follows replays each staged shard's receipt and holds only the component rounds
    that many documents need (`component_rounds`). On the local runner an empty round still costs two
    stages of about 30 ms."""
    stages = _stages(config, plan)
    staged = _stage_shards(pipeline, config, plan, stages)
    # Counted in band entries: a document with words has `bands` of them.
    near_sources, bands = stages.corpus.near, stages.near.bands
    exact_copies = staged[EXACT] | "NearExactCopies" >> beam.FlatMap(
        lambda item: [bands] if item[1].source in near_sources else []).with_output_types(int)
    band_entries = staged[NEAR] | "BandEntries" >> beam.Map(lambda _: 1).with_output_types(int)
    earlier = (pipeline | "EarlierList" >> beam.Create([earlier_signatures_path(plan.output)] if plan.earlier_signatures
                                                        else [])
               | "EarlierFiles" >> beam.FlatMap(read_lines)
               | "EarlierRows" >> beam.Map(lambda path: signature_rows(path) * bands).with_output_types(int))
    nodes_path = near_nodes_path(plan.output)
    _ = ((exact_copies, band_entries, earlier) | "Entries" >> beam.Flatten()
         | "Sum" >> beam.CombineGlobally(sum)
         | "WriteNodes" >> beam.Map(lambda total: write_file(nodes_path, str(-(-total // bands)).encode())))


def component_rounds(config: Config, plan: CuratePlan) -> int:
    """The component rounds for the documents pass 1 counted (`build_pass_one`), at most max_rounds."""
    with FileSystems.open(near_nodes_path(plan.output)) as handle:
        nodes = int(handle.read())
    return min(settings_for(config, "near-dedup").max_rounds, rounds_for(nodes))


def build_curation(pipeline: beam.Pipeline, config: Config, plan: CuratePlan, rounds: Optional[int] = None) -> None:
    """Add the curation graph to `pipeline`: stream and stage (pass 1), decide on keys (pass 2), apply
    the verdicts shard by shard (pass 3), then the ledger. No document text crosses a shuffle.
    `rounds`: near dedup's component rounds (default: its max_rounds)."""
    stages = _stages(config, plan)
    used, corpus, near, paragraph, models = stages.used, stages.corpus, stages.near, stages.paragraph, stages.models
    ids, signal_types, staging = corpus.ids, stages.signal_types, staging_folder(plan.output)
    staged = _stage_shards(pipeline, config, plan, stages)
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
            ids, len(plan.inputs), near.bands, near.rows, near.num_perm, near.threshold,
            rounds or near.max_rounds,
            earlier_signatures_path(plan.output) if plan.earlier_signatures else None)
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
    # Pass 3: each staged shard read once, its verdicts applied, curated/ and rejected/ written aside.
    applied = ({"shard": staged[SHARDS], "verdict": all_verdicts}
               | "Apply" >> ApplyVerdicts(staging, stages.chains_after, corpus.paragraphs, models,
                                          document_schema(signal_types),
                                          document_schema(signal_types, rejected=True) if plan.keep_rejected else None,
                                          plan.rows_per_shard))
    written = ((staged[EVENTS], applied, *notes) | "AllEvents" >> beam.Flatten()
               | "Ledger" >> WriteLedger(staging, list(config.sources)))
    _ = written | "Publish" >> beam.Map(lambda _, output: publish(output), plan.output)


def pass_one_fingerprint(config: Config, plan: CuratePlan, source: str, before: list[str], corpus: Corpus,
                         schema) -> str:
    """What pass 1 does to `source`'s files: a staged shard is reused only under the same fingerprint.
    (Settings as written: a model or word list changed in place under the same path is not seen.)"""
    models = corpus.models
    return fingerprint({
        "tokenmill": _version(), "read": plan.read_options[source], "schema": schema.to_string(),
        "stages": [(name, settings_for(config, name, source)) for name in before if name in plan.stages[source]],
        "exact": source in corpus.exact,
        "paragraph_min_chars": corpus.paragraph_min_chars if source in corpus.paragraphs else None,
        "near": corpus.near_keys if source in corpus.near else None,
        "uids": corpus.ids,  # the keys' uids pack the shard into ids.shard_bits: a replayed key must use this run's
        "models": models if models is not None and source in models.sources else None,
        "keep_rejected": corpus.keep_rejected,
    })


def fingerprint(settings: dict) -> str:
    """A digest of settings (dataclasses, sets and paths included), the same in every process."""
    def plain(value):
        if is_dataclass(value) and not isinstance(value, type):
            return asdict(value)
        if isinstance(value, (set, frozenset)):
            return sorted(value, key=repr)
        return str(value)

    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=plain).encode("utf-8")).hexdigest()


def _version() -> str:
    try:
        return version("tokenmill")
    except PackageNotFoundError:
        return "unknown"


def prepare_run(plan: CuratePlan) -> None:
    """Before the pipeline starts: remove what killed writers and an unfinished run's pass 3 left in
    the staging folder (staged shards and their receipts stay, to be reused), and write the manifests.
    The previous run's curated/, rejected/ and ledger stay until this run publishes its own."""
    staging = staging_folder(plan.output)
    sweep(staging)
    for folder in ("curated", "rejected"):
        remove_tree(f"{staging}/{folder}")
    delete_matching([f"{staging}/{LEDGER_FILE}", f"{staging}/{PUBLISHING}"])
    write_manifest(manifest_path(plan.output), plan.inputs)
    if plan.earlier_signatures:
        write_file(earlier_signatures_path(plan.output), "".join(f"{path}\n" for path in plan.earlier_signatures).encode())


PUBLISHING = "publishing"  # in the staging folder: the previous run's outputs are gone, this run's are moving in


def publish(output: str) -> None:
    """Replace the previous run's outputs with this run's: the old ledger goes first (an output folder
    without one is unfinished), with the old curated/ and rejected/; then the new shards move in, then
    the new ledger; the staging folder goes last, so a crash on the way leaves a rerun what it needs.
    Safe to run again (a retried bundle): the old outputs go only once, marked by PUBLISHING, and
    only what is still in the staging folder moves."""
    staging = staging_folder(output)
    ledger = f"{staging}/{LEDGER_FILE}"
    if FileSystems.exists(ledger) and not FileSystems.exists(f"{staging}/{PUBLISHING}"):
        delete_matching([f"{output}/{LEDGER_FILE}"])
        for folder in ("curated", "rejected"):
            remove_tree(f"{output}/{folder}")
        write_file(f"{staging}/{PUBLISHING}", b"")
    for folder in ("curated", "rejected"):
        move_tree(f"{staging}/{folder}", f"{output}/{folder}")
    if FileSystems.exists(ledger):
        replace(ledger, f"{output}/{LEDGER_FILE}")
    remove_tree(staging)
