"""The trainer's parts on their own: optimiser groups, LR schedule, spike rails, checkpoints."""
import math

import numpy as np
import pytest
import torch

from tokenmill.jobs.train.checkpoint import (latest_checkpoint, list_checkpoints, load_checkpoint,
                                   rng_state, save_checkpoint, set_rng_state)
from tokenmill.jobs.train.model import GPT, GPTConfig
from tokenmill.jobs.train.optim import make_optimizer, make_scheduler, warmup_cosine
from tokenmill.jobs.train.rails import LossRails
from tokenmill.pipeline.train_config import TrainConfig


def chapter_detect_loss_spike(losses, window=100, threshold=3.0):
    """pretraining.md's `detect_loss_spike`, verbatim."""
    if len(losses) < window:
        return False
    recent_mean = np.mean(losses[-window:-1])
    recent_std = np.std(losses[-window:-1])
    return losses[-1] > recent_mean + threshold * recent_std


def test_weight_decay_only_on_matrices():
    model = GPT(GPTConfig.named("tiny", vocab_size=50, block_size=8))
    optimizer = make_optimizer(model, TrainConfig(weight_decay=0.1), fused=False)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    assert any(p is model.token_embedding.weight for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_schedule_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    f = lambda s: warmup_cosine(s, warmup=10, total=110, min_ratio=0.1)  # noqa: E731
    assert [f(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)  # half way through the cosine
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 120))


def test_scheduler_drives_the_optimizer_lr():
    cfg = TrainConfig(lr=1e-3, warmup_steps=2, steps=4, min_lr_ratio=0.0)
    param = torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = torch.optim.AdamW([param], lr=cfg.lr)
    scheduler = make_scheduler(optimizer, cfg)
    lrs = []
    for _ in range(5):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([5e-4, 1e-3, 1e-3, 5e-4, 0.0])


@pytest.mark.parametrize("seed", range(5))
def test_rails_agree_with_the_chapter_detector(seed):
    rng = np.random.default_rng(seed)
    losses = list(3.0 + 0.05 * rng.standard_normal(400))
    for at in rng.choice(400, size=8, replace=False):
        losses[at] += rng.uniform(0.05, 0.6)
    rails = LossRails(window=100, threshold=3.0)
    accepted = []
    for loss in losses:
        verdict = rails.check(loss, grad_norm=1.0)
        assert (verdict is not None) == chapter_detect_loss_spike(accepted + [loss])
        if verdict is None:
            rails.accept(loss)
            accepted.append(loss)
    assert len(accepted) < len(losses)  # some injected spikes were caught


def test_rails_flag_non_finite_loss_or_gradient_at_once():
    rails = LossRails(window=5)
    assert rails.check(math.nan, 1.0).kind == "nonfinite"
    assert rails.check(2.0, math.inf).kind == "nonfinite"
    assert rails.check(2.0, 1.0) is None  # too little history to call a spike


def test_rails_state_round_trips():
    rails = LossRails(window=4)
    for loss in (3.0, 2.9, 2.8, 2.7):
        rails.accept(loss)
    restored = LossRails(window=4)
    restored.load_state_dict(rails.state_dict())
    assert list(restored.history) == [2.9, 2.8, 2.7]
    spike = restored.check(9.0, 1.0)
    assert spike.kind == "spike" and spike.mean == pytest.approx(2.8)


def test_checkpoints_are_atomic_keep_the_last_k_and_load_weights_only(tmp_path):
    torch.manual_seed(0)
    device = torch.device("cpu")
    for step in (0, 10, 20, 30):
        state = {"step": step, "weights": torch.full((3,), float(step)), "rng": rng_state(device),
                 "data": [{"row": step * 4, "pass": 0}], "history": [1.5, 2.5]}
        save_checkpoint(tmp_path, step, state, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [20, 30]
    assert not list(tmp_path.glob(".*.tmp"))
    loaded = load_checkpoint(latest_checkpoint(tmp_path))
    assert loaded["step"] == 30 and torch.equal(loaded["weights"], torch.full((3,), 30.0))
    assert loaded["data"] == [{"row": 120, "pass": 0}]


def test_a_torn_temporary_file_is_ignored(tmp_path):
    save_checkpoint(tmp_path, 5, {"step": 5}, keep=3)
    (tmp_path / ".step-00000010.pt.tmp").write_bytes(b"half a checkpo")
    assert latest_checkpoint(tmp_path).name == "step-00000005.pt"


def test_rng_state_restores_the_same_draws():
    device = torch.device("cpu")
    torch.manual_seed(3)
    state = rng_state(device)
    first = torch.rand(4)
    torch.rand(10)
    set_rng_state(state, device)
    assert torch.equal(torch.rand(4), first)
