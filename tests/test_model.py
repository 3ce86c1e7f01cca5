"""The GPT and its loss: the chapter's objective, causality, tying, sizes, FLOPs."""
import typing

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tokenmill.jobs.train import model as model_module
from tokenmill.jobs.train.model import GPT, SIZES, GPTConfig, chunked_cross_entropy, pretraining_loss
from tokenmill.pipeline.train_config import ModelSize


def chapter_log_softmax(x):
    max_x = np.max(x, axis=-1, keepdims=True)
    return x - max_x - np.log(np.sum(np.exp(x - max_x), axis=-1, keepdims=True))


def chapter_pretraining_loss(forward, tokens):
    """pretraining.md's `pretraining_loss`, verbatim in numpy, with `forward` as the model."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    logits = forward(inputs)
    log_probs = chapter_log_softmax(logits)
    loss = -log_probs[np.arange(logits.shape[0])[:, None], np.arange(logits.shape[1]), targets]
    return loss.mean()


def tiny(**overrides) -> GPTConfig:
    return GPTConfig.named("tiny", vocab_size=61, block_size=16, **overrides)


def test_loss_matches_the_chapter_on_random_logits():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, size=(3, 9))
    hidden, weight = rng.normal(size=(3, 8, 16)), rng.normal(scale=2.0, size=(50, 16))
    expected = chapter_pretraining_loss(lambda _: hidden @ weight.T, tokens)
    got = chunked_cross_entropy(torch.from_numpy(hidden), torch.from_numpy(weight),
                                torch.from_numpy(tokens[:, 1:]), vocab_size=50)
    assert got.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("chunk_logits", [64 * 5, 1 << 27])  # five positions a chunk, or all at once
def test_chunked_loss_and_gradients_equal_full_logits_with_padded_ids_excluded(monkeypatch, chunk_logits):
    monkeypatch.setattr(model_module, "_CHUNK_LOGITS", chunk_logits)
    torch.manual_seed(0)
    hidden = torch.randn(2, 12, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(64, 16, dtype=torch.float64, requires_grad=True)  # ids 61-63 are padding
    targets = torch.randint(0, 61, (2, 12))
    loss = chunked_cross_entropy(hidden, weight, targets, vocab_size=61)
    (2 * loss).backward()
    h, w = hidden.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    full = F.cross_entropy((h @ w[:61].T).flatten(0, 1), targets.flatten())
    (2 * full).backward()
    assert loss.item() == pytest.approx(full.item(), rel=1e-12)
    assert torch.allclose(hidden.grad, h.grad, atol=1e-12) and torch.allclose(weight.grad, w.grad, atol=1e-12)
    assert torch.count_nonzero(weight.grad[61:]) == 0  # padding ids are never predicted


def test_vocabulary_is_padded_to_a_multiple_of_64_and_logits_stop_at_the_tokenizer():
    model = GPT(tiny())  # 61 ids
    assert model.token_embedding.weight.shape[0] == 64
    logits = model(torch.zeros(1, 4, dtype=torch.long))
    assert logits.shape == (1, 4, 61)
    assert GPTConfig.named("gpt2-124m", 50257, 1024).padded_vocab_size == 50304


def test_loss_without_gradient_matches_and_keeps_no_graph():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    rows = torch.randint(0, 61, (2, 17))
    with torch.no_grad():
        loss = pretraining_loss(model, rows)
        reference = F.cross_entropy(model(rows[:, :-1]).flatten(0, 1), rows[:, 1:].flatten())
    assert not loss.requires_grad and loss.item() == pytest.approx(reference.item(), rel=1e-6)


def test_pretraining_loss_shifts_inputs_and_targets_like_the_chapter():
    torch.manual_seed(0)
    model = GPT(tiny()).double().eval()
    rows = torch.randint(0, 61, (2, 17))
    forward = lambda inputs: model(torch.from_numpy(inputs)).detach().numpy()  # noqa: E731
    expected = chapter_pretraining_loss(forward, rows.numpy())
    assert pretraining_loss(model, rows).item() == pytest.approx(expected, rel=1e-10)


def test_attention_is_causal():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    rows = torch.randint(0, 61, (1, 16))
    changed = rows.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 61
    with torch.no_grad():
        a, b = model(rows), model(changed)
    assert torch.equal(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_sdpa_attention_equals_masked_softmax():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    attn = model.blocks[0].attn
    x = torch.randn(2, 16, 64)
    q, k, v = attn.qkv(x).view(2, 16, 3, 2, 32).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-1, -2)) / 32**0.5
    scores = scores.masked_fill(torch.ones(16, 16, dtype=torch.bool).triu(1), float("-inf"))
    manual = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(2, 16, 64)
    with torch.no_grad():
        assert torch.allclose(attn(x), attn.proj(manual), atol=1e-6)


def test_embeddings_are_tied_and_counted_once():
    model = GPT(tiny())
    assert model.lm_head.weight is model.token_embedding.weight
    assert model.num_params() == sum(p.numel() for p in set(model.parameters()))


def test_gpt2_124m_shape_parameters_and_flops():
    cfg = GPTConfig.named("gpt2-124m", vocab_size=50257, block_size=1024)
    with torch.device("meta"):
        model = GPT(cfg)
    # GPT-2 small with tied embeddings (124,439,808) and the vocabulary padded to 50,304
    assert model.num_params() == 124_439_808 + (50304 - 50257) * 768
    non_position = model.num_params() - 1024 * 768
    assert model.flops_per_token() == 6 * non_position + 12 * 12 * 12 * 64 * 1024


def test_custom_sizes_override_a_named_one_and_bad_shapes_are_refused():
    cfg = GPTConfig.named("tiny", vocab_size=10, block_size=8, n_layer=3, n_embd=96)
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd) == (3, 2, 96)
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPTConfig.named("tiny", vocab_size=10, block_size=8, n_embd=65)
    with pytest.raises(ValueError, match="unknown model size"):
        GPTConfig.named("huge", vocab_size=10, block_size=8)


def test_config_names_every_size():
    assert set(typing.get_args(ModelSize)) == set(SIZES)


def test_longer_than_context_is_refused():
    with pytest.raises(ValueError, match="exceeds the context"):
        GPT(tiny())(torch.zeros(1, 17, dtype=torch.long))


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = GPT(tiny())
    recomputed = GPT(tiny(), checkpoint_blocks=True)
    recomputed.load_state_dict(plain.state_dict())
    rows = torch.randint(0, 61, (2, 17))
    pretraining_loss(plain, rows).backward()
    pretraining_loss(recomputed, rows).backward()
    for (name, a), b in zip(plain.named_parameters(), recomputed.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_the_loss_compiles_whole_and_runs_under_bf16_autocast():
    """What CUDA runs by default (torch.compile, bf16 autocast), as far as a CPU goes: the model and
    its chunked loss trace into one graph (`fullgraph`), and bf16 matmuls stay close to fp32."""
    torch.manual_seed(0)
    model = GPT(tiny())
    rows = torch.randint(0, 61, (4, 17))
    reference = pretraining_loss(model, rows)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = pretraining_loss(compiled, rows)
    loss.backward()
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(reference.item(), rel=1e-2)
    assert model.token_embedding.weight.grad[61:].abs().sum() == 0  # no gradient into the padding ids
