"""Tokenizer sample and pack on Beam's portable runner, with the SDK workers in an EXTERNAL worker
pool (other processes, as on a cluster): the same bytes as the local runner."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests import pack_corpus
from tokenmill.jobs.pack import pack
from tokenmill.jobs.tokenizer import train_tokenizer
from tests.beam_services import job_service, worker_pool  # noqa: F401 (fixtures)
from conftest import output_tree, tokenmill


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    return pack_corpus.write_curated(tmp_path_factory.mktemp("portable") / "curated", {
        "web": pack_corpus.generated(300, seed=11), "books": pack_corpus.generated(120, seed=12)}, parts=2)


def test_tokenizer_and_pack_on_an_external_worker_pool_give_the_local_bytes(curated, tmp_path, job_service,
                                                                             worker_pool):
    portable = ["--runner", "PortableRunner", "--job_endpoint", job_service, "--environment_type", "EXTERNAL",
                "--environment_config", worker_pool]
    train_tokenizer(str(curated), str(tmp_path / "local" / "tokenizer.json"), vocab_size=400,
                    mixture={"web": 0.6, "books": 0.4})
    tokenmill("tokenizer", "train", "--input", str(curated), "--vocab-size", "400", "--mixture", "web=0.6,books=0.4",
              "--output", str(tmp_path / "remote" / "tokenizer.json"), *portable)
    assert output_tree(tmp_path / "remote") == output_tree(tmp_path / "local")
    pack(str(curated), str(tmp_path / "local" / "tokenizer.json"), str(tmp_path / "local" / "tokens"), seq_len=31,
         mixture={"web": 0.7, "books": 0.3}, packing="bos-bestfit")
    tokenmill("pack", "--curated", str(curated), "--tokenizer", str(tmp_path / "local" / "tokenizer.json"),
              "--seq-len", "31", "--mixture", "web=0.7,books=0.3", "--packing", "bos-bestfit",
              "--output", str(tmp_path / "remote" / "tokens"), *portable)
    local = output_tree(tmp_path / "local" / "tokens")
    assert "manifest.json" in local and any(name.startswith("shard-") for name in local)
    assert output_tree(tmp_path / "remote" / "tokens") == local
