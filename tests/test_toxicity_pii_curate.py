"""Both stages inside `curate`: scores and counts are Parquet columns, masked text is what is written,
and every drop is in the ledger under its reason."""
import json
import os

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

import pyarrow.parquet as pq

from tokenmill.jobs.curate import curation_pipeline
from tokenmill.pipeline.config import Config, SourceConfig
from tokenmill.pipeline.curate import prepare_run
from tokenmill.pipeline.ledger import read_ledger

PROSE = ("The committee met on Tuesday to review the plans for the new library, which will open next "
         "spring with a reading room, a children's corner and a small café near the entrance. ")
DOCS = {
    "clean": PROSE * 3,
    "contact": PROSE * 2 + "Write to jane.doe@example.com or call 212-555-0143 for tickets.",
    "crowded": PROSE * 2 + " ".join(f"Call 212-555-01{n:02d}." for n in range(10)),
    "abusive": PROSE + "fuck this shit, you stupid bitch, fuck you " * 4,
}


def test_curate_writes_scores_masks_pii_and_counts_drops(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in DOCS.items()), encoding="utf-8")
    config = Config(sources={"web": SourceConfig("jsonl", [str(source)])},
                    stages={"langid": {"languages": ["en"]}, "pii": {"max_spans": 5}})
    pipeline, plan = curation_pipeline(config, str(tmp_path / "out"), stages=["langid", "toxicity", "pii"])
    prepare_run(plan)
    pipeline.run().wait_until_finish()
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "out" / "curated").to_pylist()}
    assert set(rows) == {"clean", "contact"}
    assert rows["contact"]["text"].endswith("Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER> for tickets.")
    assert (rows["contact"]["pii_spans"], rows["contact"]["pii_email_address"], rows["contact"]["pii_phone_number"]) == (2, 1, 1)
    assert rows["clean"]["toxicity_words"] == 0 and rows["clean"]["toxicity_word_ratio"] == 0.0
    ledger = read_ledger(plan.output)
    assert ledger["removed"]["web"] == {"toxicity/bad_word_ratio": 1, "pii/too_many_spans": 1}
