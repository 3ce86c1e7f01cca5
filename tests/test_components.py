"""Connected components in settling rounds, and the dedup steps that read a key's members as a stream:
equal to a plain union-find, whatever the graph's shape; one member in memory per key."""
import random
import tracemalloc

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from tokenmill.transforms.components import ConnectedComponents, LargeStar, Neighbour, SmallStar, rounds_for
from tokenmill.transforms.exact_dedup import ExactCopy, _Decide
from tokenmill.transforms.join import DocIds
from tokenmill.transforms.near_dedup import pair_with_smallest
from tokenmill.transforms.paragraph_dedup import ParagraphCopy, _Cut


def union_find(edges) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in parent}


def check_components(edges, check, max_rounds: int = 20) -> None:
    """Run ConnectedComponents on the local runner; `check({node: (root, settled)})` asserts on the labels."""

    def labels_checked(found):
        labels = {node: (label.root, label.settled) for node, label in found}
        assert len(labels) == len(found)  # one label per node
        check(labels)

    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        labels = (pipeline | beam.Create([(max(a, b), min(a, b)) for a, b in edges])
                  | ConnectedComponents(max_rounds))
        assert_that(labels, labels_checked)


def random_graphs(rng: random.Random, count: int):
    edges = []
    for offset in range(0, 300 * count, 300):
        size = rng.randrange(2, 120)
        edges += [(offset + rng.randrange(size), offset + rng.randrange(size))
                  for _ in range(rng.randrange(1, 2 * size))]
    return [(a, b) for a, b in edges if a != b]


def test_components_equal_a_union_find_on_random_graphs_with_hubs_and_duplicate_edges():
    rng = random.Random(24)
    edges = random_graphs(rng, 40)
    edges += [(10_000, 10_000 + i) for i in range(1, 400)] * 2          # a hub, each edge twice
    edges += [(20_000 + i, 20_000 + i + 1) for i in range(300)]          # a path in id order
    expected = union_find(edges)

    def check(labels):
        assert {node: root for node, (root, _) in labels.items()} == expected
        assert all(settled for _, settled in labels.values())

    check_components(edges, check)


def test_a_path_of_3000_nodes_in_any_order_settles_into_one_component():
    ids = list(range(3000))
    random.Random(1).shuffle(ids)
    edges = list(zip(ids, ids[1:]))

    def check(labels):
        assert set(labels.values()) == {(0, True)} and len(labels) == 3000

    check_components(edges, check, max_rounds=14)


def shapes(n: int, rng: random.Random) -> dict[str, list[tuple[int, int]]]:
    """Connected graphs of nodes 0..n-1: paths in four orders, a random tree, binary trees numbered
    from the root and from the leaves."""
    in_order, shuffled = list(range(n)), rng.sample(range(n), n)
    zigzag = sorted(in_order, key=lambda i: (i % 2, i if i % 2 else -i))
    return {"path in order": list(zip(in_order, in_order[1:])),
            "path in reverse": [(b, a) for a, b in zip(in_order, in_order[1:])],
            "path shuffled": list(zip(shuffled, shuffled[1:])),
            "path zigzag": list(zip(zigzag, zigzag[1:])),
            "random tree": [(shuffled[i], shuffled[rng.randrange(i)]) for i in range(1, n)],
            "binary tree": [(i, (i - 1) // 2) for i in range(1, n)],
            "binary tree from the leaves": [(n - 1 - i, n - 1 - (i - 1) // 2) for i in range(1, n)]}


@pytest.mark.parametrize("n", [2, 4, 64, 100])
def test_rounds_for_n_nodes_settle_every_shape_with_one_round_to_spare(n):
    """ceil(log2 n) + 1 rounds settle each shape; at these sizes one of them needs all of those rounds."""
    graphs = shapes(n, random.Random(n))
    edges = [(a + offset, b + offset) for offset, graph in zip(range(0, 10 * n * len(graphs), 10 * n), graphs.values())
             for a, b in graph]

    def all_settled(labels):
        assert len(labels) == n * len(graphs) and all(settled for _, settled in labels.values())

    def some_unsettled(labels):
        assert not all(settled for _, settled in labels.values())

    check_components(edges, all_settled, max_rounds=rounds_for(n) - 1)
    check_components(edges, some_unsettled, max_rounds=rounds_for(n) - 2)


def test_a_component_still_changing_after_the_last_round_is_labelled_within_itself_and_marked():
    edges = [(i, i + 1) for i in range(200)] + [(1000, 1001)]

    def check(labels):
        assert labels[1000] == labels[1001] == (1000, True)
        path = {node: label for node, label in labels.items() if node < 1000}
        assert len(path) == 201 and not any(settled for _, settled in path.values())
        assert 1 < len({root for root, _ in path.values()}) and all(root <= node for node, (root, _) in path.items())

    check_components(edges, check, max_rounds=2)


def test_max_rounds_must_be_positive():
    with pytest.raises(ValueError, match="max_rounds"):
        ConnectedComponents(0)


class Reiterable:
    """A group's values made afresh on every pass, as a runner that pages them from its shuffle does."""

    def __init__(self, count: int, make):
        self.count, self.make = count, make

    def __iter__(self):
        return (self.make(i) for i in range(self.count))


def peak_bytes(outputs) -> tuple[int, int]:
    """(outputs counted, peak traced bytes while they were produced and dropped)."""
    tracemalloc.start()
    try:
        produced = sum(1 for _ in outputs)
        return produced, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


MANY = 20_000  # listed, they would take megabytes; streamed, one at a time


@pytest.mark.parametrize("name, outputs, expected", [
    ("exact copies of a page", lambda: _Decide(DocIds(4), frozenset()).process(
        (b"hash", Reiterable(MANY, lambda i: ExactCopy(f"id{i:07d}", "web", i)))), MANY - 1),
    ("copies of a paragraph", lambda: _Cut(DocIds(4)).process(
        (b"hash", Reiterable(MANY, lambda i: ParagraphCopy(f"id{i:07d}", "web", i, 2)))), MANY - 1),
    ("members of an LSH bucket", lambda: pair_with_smallest((7, Reiterable(MANY, lambda i: MANY - i))), MANY - 1),
    ("neighbours of a hub, large-star", lambda: LargeStar().process(
        (0, Reiterable(MANY, lambda i: Neighbour(i + 1, False)))), 2 * MANY),
    ("neighbours of a hub, small-star", lambda: SmallStar().process(
        (MANY, Reiterable(MANY, lambda i: Neighbour(i, False)))), 2 * MANY),
])
def test_a_key_with_many_members_costs_one_members_memory(name, outputs, expected):
    produced, peak = peak_bytes(outputs())
    assert produced == expected, name
    assert peak < 64 * 1024, f"{name}: {peak:,} bytes at the peak"
