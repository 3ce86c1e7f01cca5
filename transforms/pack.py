"""Packing one source's documents into rows, and mixing sources' rows by weight, exactly.

Packing is sequential per source (documents in id order), so it is plain Python over streams:
memory holds a block of rows (concat) or the best-fit buffer, never a whole source.

- `pack_concat`: documents joined with the end-of-text token after each, cut into rows of
  `width` ids with no padding; a long document runs over several rows, and only the last partial
  row of the source is dropped.
- `pack_bestfit`: BOS-aligned best-fit. Each document is the end-of-text token then its ids, cut
  into pieces of at most `width`; a row is filled with the largest buffered piece that fits, again
  and again, and when none fits the shortest is cropped to fill the row exactly. So a row never
  starts inside a document except on a continuation piece of a document longer than a row, and
  truncation is rare (Ding et al. 2024, "Fewer Truncations Improve Language Modeling").

Mixing counts rows, and every row is `width` ids of one source, so row shares are token shares.
"""
from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import numpy as np
import pyarrow.parquet as pq

BLOCK_ROWS = 1024


@dataclass
class PackStats:
    documents: int = 0
    tokens: int = 0        # document ids plus one separator each
    dropped: int = 0       # ids that did not reach a row (the last partial row; cropped tails)


def merged_documents(shards: list[tuple[str, str]]) -> Iterator[tuple[str, np.ndarray]]:
    """(id, ids) of every document in the (raw ids, index .parquet) pairs, merged into id order.

    Each shard contributes one index row group at a time and no open file, and a document's ids
    are read only when it is its turn, so many shards cost little memory and no file handles."""
    heads = heapq.merge(*(_shard_index(ids, index) for ids, index in shards), key=lambda doc: doc[0])
    for doc_id, path, start, length in heads:
        yield doc_id, np.fromfile(path, dtype=np.int32, count=length, offset=4 * start)


def _shard_index(ids_path: str, index_path: str) -> Iterator[tuple[str, str, int, int]]:
    """(id, ids path, first id's position, length) of a shard's documents, in its (id) order."""
    with pq.ParquetFile(index_path) as index:
        groups = index.num_row_groups
    start = 0
    for group in range(groups):
        with pq.ParquetFile(index_path) as index:
            table = index.read_row_group(group, columns=["id", "tokens"])
        for doc_id, length in zip(table.column("id").to_pylist(), table.column("tokens").to_pylist()):
            yield doc_id, ids_path, start, length
            start += length


def pack_concat(docs: Iterable[np.ndarray], eot: int, width: int, stats: PackStats) -> Iterator[np.ndarray]:
    """Blocks of rows (n, width) int32 from documents each followed by `eot`; no padding."""
    separator = np.array([eot], dtype=np.int32)
    pending, size = [], 0
    for doc in docs:
        pending += [doc, separator]
        size += len(doc) + 1
        stats.documents += 1
        stats.tokens += len(doc) + 1
        if size >= width * BLOCK_ROWS:
            rows, pending, size = _cut(pending, width)
            yield rows
    rows, _, size = _cut(pending, width)
    stats.dropped += size
    if len(rows):
        yield rows


def _cut(pending: list[np.ndarray], width: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    flat = np.concatenate(pending).astype(np.int32, copy=False) if pending else np.zeros(0, np.int32)
    count = len(flat) // width
    rest = flat[count * width:]
    return flat[:count * width].reshape(count, width), [rest], len(rest)


def pack_bestfit(docs: Iterable[np.ndarray], eot: int, width: int, buffer: int,
                 stats: PackStats) -> Iterator[np.ndarray]:
    """Blocks of BOS-aligned best-fit rows; `buffer` pieces are kept to choose among."""
    pieces = _pieces(docs, eot, width, stats)
    keys: list[tuple[int, int]] = []          # (length, arrival), sorted
    store: dict[int, np.ndarray] = {}
    arrival = 0

    def refill():
        nonlocal arrival
        while len(keys) < buffer:
            piece = next(pieces, None)
            if piece is None:
                return
            bisect.insort(keys, (len(piece), arrival))
            store[arrival] = piece
            arrival += 1

    block = []
    refill()
    while keys:
        row, room = [], width
        while room and keys:
            fit = bisect.bisect_right(keys, (room, math.inf)) - 1
            if fit >= 0:
                fit = bisect.bisect_left(keys, (keys[fit][0], -1))
                length, key = keys.pop(fit)
                row.append(store.pop(key))
                room -= length
            else:
                length, key = keys.pop(0)
                row.append(store.pop(key)[:room])
                stats.dropped += length - room
                room = 0
            refill()
        if room:
            stats.dropped += width - room
            break
        block.append(np.concatenate(row))
        if len(block) == BLOCK_ROWS:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)


def _pieces(docs: Iterable[np.ndarray], eot: int, width: int, stats: PackStats) -> Iterator[np.ndarray]:
    for doc in docs:
        item = np.concatenate([np.array([eot], dtype=np.int32), np.asarray(doc, dtype=np.int32)])
        stats.documents += 1
        stats.tokens += len(item)
        for start in range(0, len(item), width):
            yield item[start:start + width]


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
    """The source index of each row of a phase: source i's j-th row goes at (j + 0.5) / counts[i]
    of the phase (ties by source), so every window of rows holds each source within about one row
    of its share (a deterministic largest-deficit-first order)."""
    positions = [(np.arange(n) + 0.5) / n for n in counts]
    sources = np.concatenate([np.full(n, i, dtype=np.int32) for i, n in enumerate(counts)])
    order = np.lexsort((sources, np.concatenate(positions) if positions else np.zeros(0)))
    return sources[order]


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
