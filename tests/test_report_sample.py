"""The report reads a bounded sample of an output's shards: per source, a few shards spread over its
listing and their first rows, in proportion to the source's documents, never under a floor."""
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from tokenmill.jobs.report.sample import FILES_PER_SOURCE, MIN_ROWS_PER_SOURCE, SAMPLE_ROWS, ShardSample, spread


def write_shards(folder, source, shards, rows):
    (folder / source).mkdir(parents=True)
    for i in range(shards):
        table = pa.table({"id": [f"{source}-{i}-{r}" for r in range(rows)], "score": [float(r) for r in range(rows)]})
        pq.write_table(table, folder / source / f"part-{i:05d}-0000.parquet", row_group_size=100)


def test_a_large_source_is_sampled_and_a_small_one_read_whole(tmp_path):
    write_shards(tmp_path, "web", 40, 500)
    write_shards(tmp_path, "books", 3, 100)
    sample = ShardSample.of(str(tmp_path), {"web": 40 * 500, "books": 3 * 100})
    chosen = [read.path.rsplit("/", 1)[-1] for read in sample.reads if read.source == "web"]
    assert len(chosen) == FILES_PER_SOURCE and chosen[0] == "part-00000-0000.parquet"
    assert chosen == [f"part-{i:05d}-0000.parquet" for i in spread(list(range(40)), FILES_PER_SOURCE)]
    table = sample.table(["id", "score", "absent"])
    assert Counter(doc_id.split("-")[0] for doc_id in table["id"].to_pylist()) == {"web": FILES_PER_SOURCE * 500,
                                                                                    "books": 300}
    assert table["absent"].null_count == table.num_rows and sample.shards == 43 and sample.documents == 20_300
    assert MIN_ROWS_PER_SOURCE > 300  # the small source is read whole


def test_rows_are_taken_from_the_head_of_each_shard(tmp_path):
    write_shards(tmp_path, "web", 4, 15_000)
    table = ShardSample.of(str(tmp_path), {"web": 60_000}).table(["score"])
    quota = SAMPLE_ROWS // 4
    assert table.num_rows == SAMPLE_ROWS and table["score"].to_pylist()[quota - 1:quota + 1] == [quota - 1, 0]


def test_a_missing_folder_is_an_empty_sample(tmp_path):
    sample = ShardSample.of(str(tmp_path / "rejected"), {"web": 5})
    assert sample.reads == () and sample.table(["id"]).num_rows == 0
