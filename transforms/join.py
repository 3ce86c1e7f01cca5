"""Corpus-wide decisions on small keys: where a document sits as one integer, the verdicts pass 3
applies, and groups read as streams, never listed.

A staged document is `uid = row << shard_bits | shard` (`DocIds`): one integer, as short on the
wire as the run is small. A key's members meet in a `GroupByKey` and are read twice, once for
the smallest and once to tell every other one (`smallest_and_others`), so whatever the number of
copies a worker holds one member at a time; Dataflow pages a large group's values from its
shuffle, the local runners hold them in their own buffers. `stream_join` does the same for keys
that gather several kinds of value (a shard's signature file and the pairs to verify there): a
CoGroupByKey without its lists. Records that cross a shuffle are NamedTuples in RowCoder's encoding
(transforms/records.py, registered beside each), a few bytes each; a worker may decode one into a class made from its
schema, so records carry fields, never methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Optional, Sequence, TypeVar

import apache_beam as beam
from apache_beam.coders import Coder, registry
from apache_beam.typehints import trivial_inference
from apache_beam.typehints.native_type_compatibility import convert_to_beam_type

from tokenmill.transforms.records import register_records

T = TypeVar("T")


@dataclass(frozen=True)
class DocIds:
    """A staged document's (shard, row) packed into one integer, row first: the few files of a small
    run and the low rows of every file give short varints in every shuffle."""

    shard_bits: int

    @classmethod
    def for_shards(cls, count: int) -> "DocIds":
        return cls(max(1, (count - 1).bit_length()))

    def uid(self, shard: int, row: int) -> int:
        return row << self.shard_bits | shard

    def shard(self, uid: int) -> int:
        return uid & ((1 << self.shard_bits) - 1)

    def row(self, uid: int) -> int:
        return uid >> self.shard_bits


class Verdict(NamedTuple):
    """What pass 3 applies to one staged row: its removal by `stage` for `reason`, naming the copy kept,
    or, when `paragraph` is given, that paragraph's cut."""

    row: int
    stage: str
    reason: str = ""
    duplicate_of: str = ""
    paragraph: Optional[int] = None


register_records(Verdict)


def smallest_and_others(members: Iterable[T]) -> tuple[T, Iterator[T]]:
    """The smallest member of a re-iterable group, and a second pass over the others (equal to the
    smallest by value, never by identity: a runner may decode a group afresh on each pass)."""
    smallest = min(members)
    return smallest, (member for member in members if member != smallest)


def typed(pcoll: beam.PCollection, element_type) -> beam.PCollection:
    """`pcoll` with its element type declared, so it travels in that type's coder (a ParDo's tagged
    outputs are typed Any, and Any travels pickled)."""
    pcoll.element_type = convert_to_beam_type(element_type)
    return pcoll


def value_coder(pcoll: beam.PCollection) -> Coder:
    """The coder of the values of a (key, value) collection, from its element type."""
    return registry.get_coder(trivial_inference.key_value_types(pcoll.element_type)[1])


def stream_join(label: str, inputs: Sequence[beam.PCollection], key_type=Any) -> tuple[beam.PCollection, list[Coder]]:
    """(key, value) collections → ((key, [(input number, encoded value)]), each input's value coder):
    every value travels in its own collection's coder, and `Streams` reads one input's values at a time."""
    coders = [value_coder(pcoll) for pcoll in inputs]
    tagged = [pcoll | f"{label}Tag{number}" >> beam.MapTuple(
        lambda key, value, number=number, coder=coder: (key, (number, coder.encode(value)))).with_output_types(
            tuple[key_type, tuple[int, bytes]])
              for number, (pcoll, coder) in enumerate(zip(inputs, coders))]
    grouped = tagged | f"{label}Flatten" >> beam.Flatten() | f"{label}Group" >> beam.GroupByKey()
    return grouped, coders


class Streams:
    """One key's values from `stream_join`: `streams(n)` decodes input n's values, one at a time,
    on a fresh pass over the group each call."""

    def __init__(self, grouped: Iterable[tuple[int, bytes]], coders: Sequence[Coder]):
        self.grouped, self.coders = grouped, coders

    def __call__(self, number: int) -> Iterator:
        coder = self.coders[number]
        return (coder.decode(data) for tag, data in self.grouped if tag == number)


class ShardVerdicts:
    """A staged shard's group in pass 3 (from `stream_join` of what pass 1 wrote for each shard, then
    the verdicts): the shard's record, and its verdicts streamed."""

    def __init__(self, grouped: Iterable[tuple[int, bytes]], coders: Sequence[Coder]):
        self.streams = Streams(grouped, coders)
        self.shard = next(self.streams(0))

    def verdicts(self) -> Iterator[Verdict]:
        return self.streams(1)
