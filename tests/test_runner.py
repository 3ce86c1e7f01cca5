"""Beam's DoFn inspection kept per DoFn (pipeline/runner.py): each DoFn inspected once, and a stateful
DoFn still run as one."""
import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from tokenmill.pipeline.runner import _specs_kept_per_dofn

TOTAL = ReadModifyWriteStateSpec("total", VarIntCoder())


class RunningTotal(beam.DoFn):
    def process(self, item, total=beam.DoFn.StateParam(TOTAL)):
        key, value = item
        total.write((total.read() or 0) + value)
        yield key, total.read()


class Unhashable(beam.DoFn):
    __hash__ = None

    def process(self, item):
        yield item


def test_each_dofn_is_inspected_once_and_callers_get_their_own_sets():
    inspected = []

    def inspect(dofn):
        inspected.append(dofn)
        return {TOTAL} if isinstance(dofn, RunningTotal) else set(), set()

    kept = _specs_kept_per_dofn(inspect)
    first, second, unhashable = RunningTotal(), RunningTotal(), Unhashable()
    specs = kept(first)
    specs[0].clear()  # a caller's change stays its own
    assert kept(first) == ({TOTAL}, set()) and kept(second) == ({TOTAL}, set())
    assert kept(unhashable) == kept(unhashable) == (set(), set())
    assert inspected == [first, second, unhashable, unhashable]


def test_a_stateful_dofn_keeps_its_state_on_the_local_runner():
    assert userstate.is_stateful_dofn(RunningTotal()) and not userstate.is_stateful_dofn(Unhashable())
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        totals = (pipeline | beam.Create([("a", 1), ("a", 2), ("a", 3)]) | beam.ParDo(RunningTotal())
                  | beam.combiners.Top.Of(1, key=lambda kv: kv[1]))
        assert_that(totals, equal_to([[("a", 6)]]))
