"""presidio-anonymizer 2.2.366's resolution of overlapping spans before it replaces them, transcribed.

`AnonymizerEngine.anonymize` sorts the spans by position, merges intersecting spans of one type,
drops spans contained in another (`MERGE_SIMILAR_OR_CONTAINED`), and joins neighbours of one type
separated only by spaces. These are those steps, on `Span`s, so that masking imports no presidio
(presidio-anonymizer imports presidio-analyzer, and with it spaCy: `filters.pii_recognizers`).
`tests/test_pii.py` checks the masked text against `anonymize` itself; `filters.pii_contract` keeps
this to the checked version.
"""
from __future__ import annotations

import re

from tokenmill.filters.pii_recognizers import Span

_SPACES = re.compile(r"^( )+$")


def resolve(text: str, spans: list[Span]) -> list[Span]:
    """The spans `anonymize` replaces, in order."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    return _merge_spaced_neighbours(text, _remove_contained(_merge_same_type_intersections(ordered)))


def _intersection(a: Span, b: Span) -> int:
    if a.end < b.start or b.end < a.start:
        return 0
    return min(a.end, b.end) - max(a.start, b.start)


def _merge_same_type_intersections(spans: list[Span]) -> list[Span]:
    """Intersecting spans of one type become one: their union, the highest score, at the position of
    the last span it absorbed."""
    by_type: dict[str, list[tuple[int, Span]]] = {}
    for position, span in enumerate(spans):
        by_type.setdefault(span.entity_type, []).append((position, span))
    kept = []
    for positioned in by_type.values():
        positioned.sort(key=lambda item: (item[1].start, item[1].end))
        position, current = positioned[0]
        for next_position, span in positioned[1:]:
            if _intersection(current, span) == 0:
                kept.append((position, current))
                position, current = next_position, span
                continue
            current = current._replace(start=min(current.start, span.start), end=max(current.end, span.end),
                                       score=max(current.score, span.score))
            position = max(position, next_position)
        kept.append((position, current))
    kept.sort(key=lambda item: item[0])
    return [span for _, span in kept]


def _remove_contained(spans: list[Span]) -> list[Span]:
    """Spans contained in another go; of spans with equal bounds the highest score stays (the last on a tie)."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].start, -spans[i].end))
    dropped: set[int] = set()
    largest_end = None
    group_start = 0
    while group_start < len(order):
        first = spans[order[group_start]]
        group_end = group_start
        while group_end < len(order) and (spans[order[group_end]].start, spans[order[group_end]].end) == (first.start, first.end):
            group_end += 1
        group = order[group_start:group_end]
        if largest_end is not None and largest_end >= first.end:
            dropped.update(group)
        else:
            survivor = max(group, key=lambda i: (spans[i].score, i))
            dropped.update(i for i in group if i != survivor)
        if largest_end is None or first.end > largest_end:
            largest_end = first.end
        group_start = group_end
    return [span for i, span in enumerate(spans) if i not in dropped]


def _merge_spaced_neighbours(text: str, spans: list[Span]) -> list[Span]:
    """A span of the type of the span before it, separated from it by spaces only, absorbs it."""
    merged: list[Span] = []
    previous = None
    for span in spans:
        if previous is not None and previous.entity_type == span.entity_type \
                and _SPACES.search(text[previous.end:span.start]):
            merged.remove(previous)
            span = span._replace(start=previous.start)
        merged.append(span)
        previous = span
    return merged
