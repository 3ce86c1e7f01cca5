"""Mixing sources' rows by weight, exactly, from counts alone; and writing the mixed shards in Beam.

The launcher knows only how many rows each pack group holds. From those counts `plan_mixture` fixes
how many rows each phase takes from each source (epoch caps checked); `MixPlan.rows_for` then says,
for any range of output positions, which row of which source sits there, computed in the worker
that writes that range without materialising the order of the whole run:

- the interleave puts source i's j-th row of a phase at key (j + 0.5) / n_i, ties by source, so every
  window of rows holds each source within about one row of its share; the slots of a range come
  from exact integer ranks, not from sorting the phase;
- a phase takes the next n_i rows of the source (epoch after epoch) in a seeded shuffle: blocks of
  SHUFFLE_BLOCK consecutive rows go to shuffled places and rows are shuffled inside each block, a
  keyed bijection (a Feistel network, Luby & Rackoff 1988) evaluated row by row, so a writer reads
  a few runs of nearby rows per rows file instead of one seek per row.

Mixing counts rows, and every row is `width` ids of one source, so row shares are token shares.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tokenmill.filters.document import stable_hash
from tokenmill.transforms.files import write_file
from tokenmill.transforms.formats.common import open_raw
from tokenmill.transforms.pack import ROW_DTYPE, PackGroup, read_groups_file
from tokenmill.transforms.tokenize import read_json, write_json

SHUFFLE_BLOCK = 64               # rows that move together in a phase's shuffle (a power of 4)
READ_GAP = 16                    # needed rows this close together are read in one request
READ_RUN = 1024                  # ... of at most this many rows
EXACT_INT64_ROWS = 2 ** 31       # rows of one source in one phase below which ranks fit int64; above, Python ints


class MixtureError(ValueError):
    """The weights, epoch caps and total cannot all hold; the message says what would."""


@dataclass
class PhasePlan:
    start: int                     # first row of the phase
    end: int                       # one past its last row
    weights: dict[str, float]      # normalised over the sources
    rows: dict[str, int] = field(default_factory=dict)


def apportion(weights: dict[str, float], rows: int) -> dict[str, int]:
    """Split `rows` by `weights` with the largest-remainder method (ties by source name)."""
    total = sum(weights.values())
    exact = {s: rows * w / total for s, w in weights.items()}
    counts = {s: math.floor(x) for s, x in exact.items()}
    order = sorted(weights, key=lambda s: (-(exact[s] - counts[s]), s))
    for source in order[:rows - sum(counts.values())]:
        counts[source] += 1
    return counts


def plan_phases(phases: list[tuple[float, dict[str, float]]], total_rows: int) -> list[PhasePlan]:
    """Rows of each phase and of each source within it, for `total_rows` in all."""
    plans, start = [], 0
    for until, weights in phases:
        end = round(until * total_rows)
        total = sum(weights.values())
        normalised = {s: w / total for s, w in sorted(weights.items())}
        plans.append(PhasePlan(start, end, normalised, apportion(normalised, end - start)))
        start = end
    return plans


def rows_needed(plans: list[PhasePlan]) -> dict[str, int]:
    needed: dict[str, int] = {}
    for plan in plans:
        for source, rows in plan.rows.items():
            needed[source] = needed.get(source, 0) + rows
    return needed


def row_limits(available: dict[str, int], caps: dict[str, float]) -> dict[str, int]:
    """The most rows each source may give: its rows times its epoch cap."""
    return {s: math.floor(available[s] * caps[s] + 1e-9) for s in available}


def largest_total(phases: list[tuple[float, dict[str, float]]], available: dict[str, int],
                  caps: dict[str, float]) -> int:
    """The most rows the caps allow with these phase weights."""
    limits = row_limits(available, caps)
    average = average_weights(phases)
    bound = min(limits[s] / w for s, w in average.items() if w > 0)
    if bound < 1:
        return 0
    total = math.floor(bound) + len(average) * len(phases)
    while total > 0 and not _fits(plan_phases(phases, total), limits):
        total -= 1
    return total


def plan_mixture(phases: list[tuple[float, dict[str, float]]], available: dict[str, int],
                 caps: dict[str, float], total_rows: Optional[int], width: int) -> list[PhasePlan]:
    """The per-phase rows of each source; `total_rows` None takes the largest the caps allow."""
    for source in sorted(average_weights(phases)):
        if source not in available:
            raise MixtureError(f"the mixture names {source!r}, which has no curated shards "
                               f"(sources: {', '.join(sorted(available)) or 'none'})")
    best = largest_total(phases, available, caps)
    if total_rows is None:
        total_rows = best
    if total_rows < 1:
        empty = sorted(s for s, w in average_weights(phases).items() if w > 0 and available[s] == 0)
        raise MixtureError(f"no row can be mixed: {', '.join(empty) or 'the weighted sources'} "
                           f"hold{'s' if len(empty) == 1 else ''} fewer tokens than one row of {width}")
    plans = plan_phases(phases, total_rows)
    limits = row_limits(available, caps)
    if _fits(plans, limits):
        return plans
    short = []
    for source, rows in sorted(rows_needed(plans).items()):
        if rows > limits[source]:
            epochs = rows / available[source] if available[source] else math.inf
            short.append(f"{source} needs {rows:,} rows = {epochs:.2f} epochs of its {available[source]:,} "
                         f"(cap {caps[source]:g}); at this total its share can be at most "
                         f"{limits[source] / total_rows:.4f}")
    raise MixtureError(f"the mixture cannot fill {total_rows * width:,} tokens: " + "; ".join(short)
                       + f". With these weights and caps at most {best * width:,} tokens fit "
                       f"(--total-tokens {best * width}), or raise the epoch caps, or lower those weights.")


def _fits(plans: list[PhasePlan], limits: dict[str, int]) -> bool:
    return all(rows <= limits[s] for s, rows in rows_needed(plans).items())


def average_weights(phases: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
    """Each source's share of all rows: its phase weights averaged over the phases' lengths."""
    average: dict[str, float] = {}
    previous = 0.0
    for until, weights in phases:
        total = sum(weights.values())
        for source, weight in weights.items():
            average[source] = average.get(source, 0.0) + (until - previous) * weight / total
        previous = until
    return average


def interleave(counts: list[int]) -> np.ndarray:
    """The source index of every row of a phase whose sources give `counts` rows."""
    return interleave_range(counts, 0, sum(counts))[0]


def _rank(counts: list[int], i: int, j: int) -> int:
    """The position of source i's j-th row in the interleave (exact, Python integers)."""
    rank = j
    for k, n_k in enumerate(counts):
        if k != i and n_k:
            x = (2 * j + 1) * n_k
            before = -(-x // counts[i]) // 2 + (k < i and x % counts[i] == 0 and (x // counts[i]) % 2 == 1)
            rank += min(n_k, before)
    return rank


def slots_before(counts: list[int], position: int) -> list[int]:
    """How many rows of each source sit before `position` in the interleave."""
    before = []
    for i, n in enumerate(counts):
        low, high = 0, n
        while low < high:
            middle = (low + high) // 2
            if _rank(counts, i, middle) >= position:
                high = middle
            else:
                low = middle + 1
        before.append(low)
    return before


def interleave_range(counts: list[int], start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(source index, row number within the source's rows of the phase) of slots start..stop-1.

    Source k's rows before source i's j-th: those m with (2m + 1) n_i < (2j + 1) n_k, plus the tie
    when k < i; counted in closed form, so each slot's rank is exact and no sort is needed. The
    products (2j + 1) n_k fit int64 while every count is below EXACT_INT64_ROWS; a larger phase is
    counted in Python integers (slower, as exact)."""
    wide = max(counts, default=0) >= EXACT_INT64_ROWS
    sources = np.empty(stop - start, dtype=np.int32)
    index = np.empty(stop - start, dtype=np.int64)
    low, high = slots_before(counts, start), slots_before(counts, stop)
    for i, n_i in enumerate(counts):
        if high[i] == low[i]:
            continue
        j = np.arange(low[i], high[i], dtype=np.int64)
        if wide:
            j = j.astype(object)
        rank = j.copy()
        for k, n_k in enumerate(counts):
            if k != i and n_k:
                x = (2 * j + 1) * n_k
                before = -(-x // n_i) // 2
                if k < i:
                    before += (x % n_i == 0) & ((x // n_i) % 2 == 1)
                rank += np.minimum(n_k, before)
        slots = (rank - start).astype(np.int64)
        sources[slots] = i
        index[slots] = j
    return sources, index


_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): a well-mixed hash of uint64 values
    (multiplication wraps modulo 2**64, as the algorithm means it to)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _feistel(values: np.ndarray, bits: int, keys: np.ndarray) -> np.ndarray:
    """A keyed bijection of [0, 2**bits) (bits even): four Feistel rounds (Luby & Rackoff 1988)."""
    half = np.uint64(bits // 2)
    mask = np.uint64((1 << (bits // 2)) - 1)
    left, right = values >> half, values & mask
    for round_number in range(4):
        with np.errstate(over="ignore"):
            round_keys = _mix64(keys + np.uint64((round_number * _GOLDEN) & _MASK64))
        left, right = right, left ^ (_mix64(right ^ round_keys) & mask)
    return (left << half) | right


def _permute(values: np.ndarray, n: int, key: int) -> np.ndarray:
    """A keyed bijection of [0, n): the Feistel network on the next even power of two, walked
    until it lands inside (cycle walking, Black & Rogaway 2002)."""
    bits = max(2, (n - 1).bit_length() + (n - 1).bit_length() % 2)
    keys = np.uint64(key & _MASK64)
    out = _feistel(values.astype(np.uint64), bits, keys)
    outside = out >= n
    while outside.any():
        out[outside] = _feistel(out[outside], bits, keys)
        outside = out >= n
    return out.astype(np.int64)


def shuffled(slots: np.ndarray, n: int, key: int) -> np.ndarray:
    """A keyed bijection of [0, n), evaluated at `slots`: the n // SHUFFLE_BLOCK whole blocks of
    SHUFFLE_BLOCK rows move to shuffled places and their rows are shuffled inside; the last partial
    block stays where it is, in order."""
    whole = n // SHUFFLE_BLOCK
    block, inner = slots // SHUFFLE_BLOCK, slots % SHUFFLE_BLOCK
    out = slots.astype(np.int64)
    moving = block < whole
    if moving.any():
        bits = SHUFFLE_BLOCK.bit_length() - 1
        block_keys = _mix64(block[moving].astype(np.uint64) + np.uint64((key * _GOLDEN) & _MASK64))
        inner_out = _feistel(inner[moving].astype(np.uint64), bits, block_keys).astype(np.int64)
        out[moving] = _permute(block[moving], whole, key) * SHUFFLE_BLOCK + inner_out
    return out


@dataclass(frozen=True)
class SourceRows:
    """A source's packed rows: its pack groups' rows files, in order, and their row counts."""
    name: str
    paths: tuple[str, ...]
    counts: tuple[int, ...]

    @property
    def available(self) -> int:
        return sum(self.counts)


def rows_by_source(groups: list[PackGroup], names: Sequence[str]) -> tuple[SourceRows, ...]:
    """Each of `names`' rows files, in the groups' order, and their row counts."""
    return tuple(SourceRows(name, tuple(g.rows_path for g in groups if g.source == name),
                            tuple(g.rows for g in groups if g.source == name)) for name in names)


@dataclass(frozen=True)
class MixPlan:
    """Everything a shard writer needs to place rows: a source is its name and its row count, so the
    plan is small whatever the number of pack groups (writers read where the rows lie themselves)."""
    names: tuple[str, ...]               # in name order; their index is the slot's value
    available: tuple[int, ...]           # each source's rows
    phases: tuple[PhasePlan, ...]
    width: int
    seed: int
    window_rows: int

    @property
    def total_rows(self) -> int:
        return self.phases[-1].end if self.phases else 0

    def counts(self, phase: PhasePlan) -> list[int]:
        return [phase.rows.get(name, 0) for name in self.names]

    def rows_for(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source index, row of that source, phase) of output rows start..stop-1.

        A source's rows are used in pack order, epoch after epoch: a phase takes the next n_i of them
        and shuffles them (keyed by seed, phase and source) over the slots the interleave gave it."""
        used = [0] * len(self.names)
        sources, rows, phases = [], [], []
        for number, phase in enumerate(self.phases):
            counts = self.counts(phase)
            low, high = max(start, phase.start), min(stop, phase.end)
            if low < high:
                slots, index = interleave_range(counts, low - phase.start, high - phase.start)
                picks = np.empty(len(slots), dtype=np.int64)
                for i, name in enumerate(self.names):
                    mine = slots == i
                    if mine.any():
                        key = stable_hash(str(self.seed), str(number), name)
                        picks[mine] = (used[i] + shuffled(index[mine], counts[i], key)) % self.available[i]
                sources.append(slots)
                rows.append(picks)
                phases.append(np.full(len(slots), number, dtype=np.int32))
            used = [u + n for u, n in zip(used, counts)]
        if not sources:
            return np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32)
        return np.concatenate(sources), np.concatenate(rows), np.concatenate(phases)

    def window_deviations(self, start: int, stop: int) -> dict[int, float]:
        """Per phase, the largest |share − weight| over the windows of `window_rows` rows (the
        whole phase if shorter) that start in start..stop-1 and lie inside the phase."""
        deviations = {}
        for number, phase in enumerate(self.phases):
            length = phase.end - phase.start
            if not length:
                continue
            window = min(self.window_rows, length)
            first, last = max(start, phase.start), min(stop, phase.end - window + 1)
            if first < last:
                slots, _ = interleave_range(self.counts(phase), first - phase.start, last - 1 + window - phase.start)
                shares = np.array([phase.weights.get(name, 0.0) for name in self.names])
                deviations[number] = window_deviation(slots, shares, window)
        return deviations


def read_rows(source: SourceRows, rows: np.ndarray, width: int) -> np.ndarray:
    """The source's `rows` (numbers across its pack groups) as an (n, width) int32 array, read from
    the rows files through FileSystems in runs of nearby rows."""
    starts = np.concatenate([[0], np.cumsum(source.counts)[:-1]]).astype(np.int64)
    groups = np.searchsorted(starts, rows, side="right") - 1
    local = rows - starts[groups]
    out = np.empty((len(rows), width), dtype=np.int32)
    order = np.lexsort((local, groups))
    row_bytes = width * ROW_DTYPE.itemsize
    for group in np.unique(groups):
        positions = order[groups[order] == group]
        wanted = local[positions]
        breaks = np.flatnonzero(np.diff(wanted) > READ_GAP) + 1
        with open_raw(source.paths[group]) as handle:
            for run in np.split(np.arange(len(wanted)), breaks):
                for part in np.array_split(run, max(1, math.ceil((wanted[run[-1]] - wanted[run[0]] + 1) / READ_RUN))):
                    first, last = int(wanted[part[0]]), int(wanted[part[-1]])
                    handle.seek(first * row_bytes)
                    data = handle.read((last - first + 1) * row_bytes)
                    if len(data) != (last - first + 1) * row_bytes:
                        raise IOError(f"{source.paths[group]}: rows {first}..{last} are past its end")
                    block = np.frombuffer(data, dtype=ROW_DTYPE).reshape(-1, width)
                    out[positions[part]] = block[wanted[part] - first]
    return out


class WriteShardFn(beam.DoFn):
    """Shard number → OUTPUT/shard-NNNNN.parquet holding output rows [number × rows_per_shard, ...),
    each read from its source's rows files (listed in the pack groups' summary, `groups`, which each
    worker reads once); yields its path, rows, sha256 and window deviations."""

    def __init__(self, plan: MixPlan, groups: str, output: str, rows_per_shard: int, row_group_rows: int):
        self.plan, self.groups, self.output = plan, groups, output
        self.rows_per_shard, self.row_group_rows = rows_per_shard, row_group_rows

    def setup(self):
        self.sources = rows_by_source(read_groups_file(self.groups), self.plan.names)

    def process(self, number: int) -> Iterator[dict]:
        plan, width = self.plan, self.plan.width
        start, stop = number * self.rows_per_shard, min((number + 1) * self.rows_per_shard, plan.total_rows)
        sources, rows, phases = plan.rows_for(start, stop)
        block = np.empty((stop - start, width), dtype=np.int32)
        for index, source in enumerate(self.sources):
            mine = sources == index
            if mine.any():
                block[mine] = read_rows(source, rows[mine], width)
        offsets = np.arange(0, (stop - start + 1) * width, width, dtype=np.int32)
        table = pa.table({
            "tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(block.reshape(-1))),
            "source": pa.array(np.array(plan.names, dtype=object)[sources].tolist(), type=pa.string()),
            "phase": pa.array(phases, type=pa.int32()),
        })
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd", row_group_size=self.row_group_rows)
        data = sink.getvalue()
        name = f"shard-{number:05d}.parquet"
        write_file(f"{self.output}/{name}", data.to_pybytes())
        yield {"number": number, "path": name, "rows": stop - start, "sha256": hashlib.sha256(data).hexdigest(),
               "window_deviation": sorted(plan.window_deviations(start, stop).items())}


class WriteMixedShards(beam.PTransform):
    """The run's output shards, each written by a worker, and `work`/shards.json describing them. The
    graph holds the plan and the number of shards, not a list of them."""

    def __init__(self, plan: MixPlan, groups: str, output: str, work: str, rows_per_shard: int,
                 row_group_rows: int):
        super().__init__()
        self.fn = WriteShardFn(plan, groups, output, rows_per_shard, row_group_rows)
        self.count = math.ceil(plan.total_rows / rows_per_shard)
        self.summary = shards_file(work)

    def expand(self, pbegin):
        summary = self.summary
        return (pbegin
                | "Count" >> beam.Create([self.count])
                | "Numbers" >> beam.FlatMap(lambda count: range(count))
                | "Spread" >> beam.Reshuffle()
                | "WriteShard" >> beam.ParDo(self.fn)
                | "Gather" >> beam.combiners.ToList()
                | "Write" >> beam.Map(lambda shards: write_json(summary, sorted(shards, key=lambda s: s["number"]))))


def shards_file(work: str) -> str:
    return f"{work}/shards.json"


def read_shards(work: str) -> list[dict]:
    return read_json(shards_file(work))


def window_deviation(slots: np.ndarray, shares: np.ndarray, window: int) -> float:
    """The largest |share in a window − target share| over every window of `window` consecutive
    rows (the whole phase if shorter), for every source."""
    window = min(window, len(slots))
    if window == 0:
        return 0.0
    worst = 0.0
    for index, share in enumerate(shares):
        counts = np.concatenate([[0], np.cumsum(slots == index)])
        in_window = counts[window:] - counts[:-window]
        worst = max(worst, float(np.max(np.abs(in_window / window - share))))
    return worst
