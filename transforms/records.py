"""The coder of the records that cross a shuffle (NamedTuples): Beam's RowCoder encoding, a few bytes
each, declared to the runner as a Python coder, so a portable runner carries the bytes as they are.

Declared as RowCoder itself (`beam:coder:row:v1`), a Java runner decodes the rows it groups with its
own RowCoder, and the Beam 2.62 job servers this project runs Flink and Spark with (docs/scale.md)
read the rows of the 2.77 SDK wrongly (an EOFException in the first GroupByKey of records); a Python
coder reaches the runner length-prefixed and is never decoded there."""
from __future__ import annotations

from apache_beam.coders import RowCoder, registry
from apache_beam.coders.coders import FastCoder


class RecordCoder(FastCoder):
    def __init__(self, row_coder: RowCoder):
        self.row_coder = row_coder

    @classmethod
    def from_type_hint(cls, type_hint, registry):
        return cls(RowCoder.from_type_hint(type_hint, registry))

    def _create_impl(self):
        return self.row_coder.get_impl()

    def is_deterministic(self) -> bool:
        return self.row_coder.is_deterministic()

    def to_type_hint(self):
        return self.row_coder.to_type_hint()

    def __eq__(self, other) -> bool:
        return type(other) is RecordCoder and other.row_coder == self.row_coder

    def __hash__(self) -> int:
        return hash(self.row_coder)


def register_records(*record_types: type) -> None:
    for record_type in record_types:
        registry.register_coder(record_type, RecordCoder)
