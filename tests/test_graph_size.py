"""The curation graph (and pass 1's own, where it runs first) names a manifest of the input files,
never the files: its size is the same for 10 files and for a crawl's 100,000, and workers list the
manifest themselves."""
from dataclasses import replace

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata

from conftest import SAMPLE
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.curate import (build_curation, build_pass_one, earlier_signatures_path, manifest_path,
                                      plan_from_listing, prepare_run)
from tokenmill.pipeline.runner import make_runner
from tokenmill.transforms.files import read_lines
from tokenmill.transforms.staging import Shard, read_manifest

CRAWL = "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1707947473347.{segment}/warc/" \
        "CC-MAIN-20240220211055-20240221001055-{file:05d}.warc.gz"


def crawl_listing(sources, files: int) -> dict[str, list[FileMetadata]]:
    """`files` WARC files named like Common Crawl's, split over the sources (no file is created)."""
    per_source = files // len(sources)
    return {name: [FileMetadata(CRAWL.format(segment=i % 100, file=i), 1_100_000_000 + i, 1.7e9 + i)
                   for i in range(per_source)] for name in sources}


def graph_bytes(config, plan, build) -> int:
    pipeline = beam.Pipeline(runner=make_runner("FnApiRunner"))
    build(pipeline, config, plan)
    return len(pipeline.to_runner_api().SerializeToString())


def test_the_graph_for_100000_files_is_the_size_of_the_graph_for_10(tmp_path):
    config = load_config(str(SAMPLE / "sample.yaml"))
    small = plan_from_listing(config, str(tmp_path / "out"), crawl_listing(config.sources, 10))
    crawl = plan_from_listing(config, str(tmp_path / "out"), crawl_listing(config.sources, 100_000))
    assert len(crawl.inputs) == 100_000
    for build in (build_curation, build_pass_one):
        small_bytes, crawl_bytes = graph_bytes(config, small, build), graph_bytes(config, crawl, build)
        assert abs(crawl_bytes - small_bytes) < 0.05 * small_bytes
    prepare_run(crawl)  # the manifest the workers read
    assert list(read_manifest(manifest_path(crawl.output))) == crawl.inputs


def test_each_file_has_a_dense_index_in_source_and_path_order_and_a_part_within_its_source(tmp_path):
    config = load_config(str(SAMPLE / "sample.yaml"))
    listing = {"web": [FileMetadata("/d/b.warc.gz", 5, 1.0), FileMetadata("/d/a.warc.gz", 7, 2.0),
                       FileMetadata("/d/b.warc.gz", 5, 1.0)],   # matched by two patterns: one file
               "docs": [FileMetadata("/d/z.jsonl.gz", 3, 3.0)]}
    plan = plan_from_listing(config, str(tmp_path), listing)
    assert plan.inputs == [Shard(0, "docs", "jsonl", "/d/z.jsonl.gz", 0, 3, 3.0),
                           Shard(1, "web", "warc", "/d/a.warc.gz", 0, 7, 2.0),
                           Shard(2, "web", "warc", "/d/b.warc.gz", 1, 5, 1.0)]
    assert plan.total_bytes == 15


def test_earlier_runs_signature_files_reach_workers_through_a_list_not_the_graph(tmp_path):
    config = load_config(str(SAMPLE / "sample.yaml"))
    plan = plan_from_listing(config, str(tmp_path / "out"), crawl_listing(config.sources, 10), ["near-dedup"])
    folder = "s3://bucket/earlier/signatures/part-{:05d}.parquet"
    few = replace(plan, earlier_signatures=[folder.format(i) for i in range(10)])
    many = replace(plan, earlier_signatures=[folder.format(i) for i in range(100_000)])
    for build in (build_curation, build_pass_one):
        few_bytes, many_bytes = graph_bytes(config, few, build), graph_bytes(config, many, build)
        assert abs(many_bytes - few_bytes) < 0.05 * few_bytes
    prepare_run(many)
    assert read_lines(earlier_signatures_path(many.output)) == many.earlier_signatures
