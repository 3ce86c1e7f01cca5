"""Using a trained run: `tokenmill generate` samples with the run's tokenizer, `tokenmill export`
writes a folder that transformers loads as GPT2LMHeadModel with the same logits."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenmill.jobs.cli import cli
from tokenmill.jobs.train import train
from tokenmill.jobs.train.generate import sample
from tokenmill.jobs.train.trained import load_trained
from tokenmill.pipeline.train_config import ModelConfig, TrainConfig
from token_shards import write_token_shards

EOT = "<|endoftext|>"
SEQ = 16
TEXT = ["the quick brown fox jumps over the lazy dog.", "a stitch in time saves nine.",
        "all that glitters is not gold.", "the early bird catches the worm."]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def byte_level_bpe(path: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(TEXT * 20, trainer)
    tokenizer.save(str(path))
    return tokenizer


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """OUT/tokenizer.json and OUT/tokens as `tokenmill run` leaves them, and a short run."""
    out = tmp_path_factory.mktemp("out")
    tokenizer = byte_level_bpe(out / "tokenizer.json")
    eot = tokenizer.token_to_id(EOT)
    ids = np.concatenate([tokenizer.encode(t).ids + [eot] for t in TEXT * 60])
    rows = ids[:len(ids) // (SEQ + 1) * (SEQ + 1)].reshape(-1, SEQ + 1)
    sha = hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest()
    write_token_shards(out / "tokens", rows, tokenizer.get_vocab_size(), rows_per_shard=len(rows) // 2 + 1)
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    manifest["tokenizer"] = {"vocab_size": tokenizer.get_vocab_size(), "sha256": sha, "eot_id": eot}
    (out / "tokens" / "manifest.json").write_text(json.dumps(manifest))
    cfg = TrainConfig(model=ModelConfig(size="tiny"), steps=40, batch_size=8, warmup_steps=2, lr=1e-2,
                      eval_every=100, checkpoint_every=20, device="cpu", tensorboard=False)
    train(out / "tokens", out / "run", cfg)
    return out / "run"


def test_the_run_keeps_its_tokenizer_and_the_checkpoint_its_shape(run):
    assert (run / "tokenizer.json").read_bytes() == (run.parent / "tokenizer.json").read_bytes()
    trained = load_trained(run)
    assert trained.step == 40
    assert (trained.model.cfg.n_layer, trained.model.cfg.n_head, trained.model.cfg.n_embd) == (2, 2, 64)
    assert trained.model.cfg.vocab_size == 300 and trained.model.token_embedding.weight.shape[0] == 320


def test_generate_continues_the_prompt_reproducibly(run):
    args = ["generate", "--run", str(run), "--prompt", "the quick", "--max-new-tokens", "12", "--seed", "3"]
    first, again = CliRunner().invoke(cli, args), CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("the quick") and len(first.output) > len("the quick\n")
    assert first.output == again.output
    greedy = CliRunner().invoke(cli, args[:-2] + ["--temperature", "0", "--checkpoint", "20"])
    assert greedy.exit_code == 0, greedy.output


def test_generate_names_what_is_missing(tmp_path, run):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["generate", "--run", str(empty), "--prompt", "x"])
    assert result.exit_code == 1 and "no checkpoints" in result.output
    result = CliRunner().invoke(cli, ["generate", "--run", str(run), "--prompt", "x", "--checkpoint", "7"])
    assert result.exit_code == 1 and "no checkpoint of step 7 (kept: 0, 20, 40)" in result.output


def test_export_loads_in_transformers_with_the_same_logits_and_generation(run, tmp_path):
    transformers = pytest.importorskip("transformers")
    result = CliRunner().invoke(cli, ["export", "--run", str(run), "--hf", str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ours = load_trained(run).model
    ids = torch.randint(0, 300, (2, SEQ))
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, ours(ids), atol=1e-5)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer.eos_token == tokenizer.pad_token == EOT and tokenizer.model_max_length == SEQ
    prompt = tokenizer("the early", return_tensors="pt")
    with torch.no_grad():
        generated = hf.generate(**prompt, max_new_tokens=6, do_sample=False)
    expected = sample(ours, prompt["input_ids"][0].tolist(), 6, temperature=0.0,
                      stop_id=tokenizer.eos_token_id)
    assert generated[0, prompt["input_ids"].shape[1]:].tolist()[:len(expected)] == expected
    padded = tokenizer(["the", "the early bird"], padding=True, return_tensors="pt")
    assert padded["input_ids"].shape[0] == 2


def test_an_fsdp_checkpoint_folder_exports_too(run, tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = TrainConfig(model=ModelConfig(size="tiny", bias=False), steps=2, batch_size=4, device="cpu",
                      parallel="fsdp", tensorboard=False, eval_every=100)
    train(run.parent / "tokens", tmp_path / "run", cfg)
    assert (tmp_path / "run" / "checkpoints" / "step-00000002" / "meta.pt").is_file()
    result = CliRunner().invoke(cli, ["export", "--run", str(tmp_path / "run"), "--hf", str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ids = torch.randint(0, 300, (1, SEQ))
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, load_trained(tmp_path / "run").model(ids), atol=1e-5)
