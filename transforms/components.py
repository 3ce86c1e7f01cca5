"""Connected components of an undirected graph on integer nodes, in rounds that stop for every
component once it has settled.

Alternating large-star and small-star steps (Kiveris et al. 2014, "Connected Components in MapReduce
and Beyond") turn each component into a star around its smallest node; a path of n nodes numbered
in order, the worst case, needs about log2(n) rounds (a drift chain of 2,000 versions 12, of a
million 21; fewer in any other order). Each step groups a
node's neighbours and reads them twice (their minimum first, then the edges it rewrites), so a hub
with a million neighbours costs one neighbour's memory. A small-star step marks the node whose only
edge is the one it keeps (`leaf`); the large-star step that finds a node with no smaller neighbour
and only leaves around it has found a whole settled component, which leaves the rounds as labels
then and there: later rounds carry only the components still changing, and a round with nothing
left costs the runner a stage and no data.

The rounds are unrolled in the graph up to `max_rounds`; a component still changing then (a path
longer than about 2^max_rounds) is labelled from what the rounds have reached, each node by its
smallest neighbour, and marked unsettled: its nodes are still labelled with nodes of their own
component, but it may be labelled by more than one. `rounds_for(n)` rounds settle a graph of n nodes
in every shape measured: the slowest, a path numbered in order, takes up to ceil(log2 n) + 1
(tests/test_components.py; Kiveris et al. prove O(log^2 n) and observe about log n).
"""
from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from tokenmill.transforms.join import typed
from tokenmill.transforms.records import register_records

SETTLED = "settled"


class Neighbour(NamedTuple):
    """One end of a node's edge; `leaf`: the neighbour's only edge is this one."""

    node: int
    leaf: bool


class Label(NamedTuple):
    """The node a component is known by (its smallest), and whether the component settled."""

    root: int
    settled: bool


register_records(Neighbour, Label)


def rounds_for(nodes: int) -> int:
    """Rounds that settle every component of a graph of `nodes` nodes: ceil(log2 n) + 1, the slowest
    shape measured, and one to spare."""
    return 1 if nodes < 2 else (nodes - 1).bit_length() + 2


def both_ways(node: int, other: int, leaf: bool = False):
    """The two messages of edge (node, other) with node > other: each end learns of the other, and
    the smaller end whether `node` is a leaf."""
    yield other, Neighbour(node, leaf)
    yield node, Neighbour(other, False)


class LargeStar(beam.DoFn):
    """A node's larger neighbours link to the smallest of its neighbourhood; a node with no smaller
    neighbour and only leaves around it is a settled star, labelled here."""

    def process(self, item):
        node, neighbours = item
        smallest, settled = node, True
        for neighbour in neighbours:
            smallest = min(smallest, neighbour.node)
            settled = settled and neighbour.leaf and neighbour.node > node
        if settled:
            yield TaggedOutput(SETTLED, (node, Label(node, True)))
            for neighbour in neighbours:
                yield TaggedOutput(SETTLED, (neighbour.node, Label(node, True)))
            return
        for neighbour in neighbours:
            if neighbour.node > node:
                yield from both_ways(neighbour.node, smallest)


class SmallStar(beam.DoFn):
    """A node and its smaller neighbours link to the smallest of them; the node is a leaf when no
    larger neighbour links to it."""

    def process(self, item):
        node, neighbours = item
        smallest, larger = node, False
        for neighbour in neighbours:
            if neighbour.node < smallest:
                smallest = neighbour.node
            larger = larger or neighbour.node > node
        if smallest == node:
            return
        for neighbour in neighbours:
            if smallest < neighbour.node < node:
                yield from both_ways(neighbour.node, smallest)
        yield from both_ways(node, smallest, not larger)


class ConnectedComponents(beam.PTransform):
    """Edges (node, smaller node) → (node, Label) for every node with an edge (its component's
    smallest node labels itself too)."""

    def __init__(self, max_rounds: int):
        super().__init__()
        if max_rounds < 1:
            raise ValueError("max_rounds: must be at least 1")
        self.max_rounds = max_rounds

    def expand(self, edges):
        messages = typed(edges | "BothWays" >> beam.FlatMapTuple(both_ways), tuple[int, Neighbour])
        labels = []
        for r in range(self.max_rounds):
            large = (messages
                     | f"LargeStarGroup{r}" >> beam.GroupByKey()
                     | f"LargeStar{r}" >> beam.ParDo(LargeStar()).with_outputs(SETTLED, main="edges"))
            labels.append(typed(large[SETTLED], tuple[int, Label]))
            if r + 1 == self.max_rounds:
                messages = typed(large.edges, tuple[int, Neighbour])
                break
            messages = typed(typed(large.edges, tuple[int, Neighbour])
                             | f"SmallStarGroup{r}" >> beam.GroupByKey()
                             | f"SmallStar{r}" >> beam.ParDo(SmallStar()), tuple[int, Neighbour])
        unsettled = (messages
                     | "Unsettled" >> beam.MapTuple(lambda node, neighbour: (node, min(node, neighbour.node)))
                     .with_output_types(tuple[int, int])
                     | "SmallestNeighbour" >> beam.CombinePerKey(min)
                     | "UnsettledLabels" >> beam.MapTuple(lambda node, root: (node, Label(root, False)))
                     .with_output_types(tuple[int, Label]))
        return (*labels, unsettled) | "Labels" >> beam.Flatten()
