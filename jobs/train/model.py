"""A decoder-only GPT, the whole model in one file.

GPT-2's shape (Radford et al. 2019): learned position embeddings, pre-norm blocks of causal
self-attention and a GELU MLP, a final LayerNorm, and an output layer tied to the token
embedding (Press & Wolf 2017). Attention goes through `scaled_dot_product_attention`, which
picks a flash or memory-efficient kernel when the device has one.

The embedding has a row for every id of the vocabulary rounded up to a multiple of 64, the
width tensor cores tile best (50,257 → 50,304 for GPT-2); the extra ids are never predicted:
their logits are −inf. The loss never materialises the logits of a whole batch:
`chunked_cross_entropy` works through the positions a chunk at a time, and computes the
gradient of the output layer as it goes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# (n_layer, n_head, n_embd). The GPT-2 family (Radford et al. 2019, table 2), plus two small
# ones that train on a CPU in seconds.
VOCAB_MULTIPLE = 64

SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (2, 2, 64),
    "small": (4, 4, 128),
    "gpt2-124m": (12, 12, 768),
    "gpt2-350m": (24, 16, 1024),
    "gpt2-774m": (36, 20, 1280),
    "gpt2-1.5b": (48, 25, 1600),
}


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")

    @property
    def padded_vocab_size(self) -> int:
        """Rows of the embedding: the vocabulary rounded up to a multiple of `VOCAB_MULTIPLE`."""
        return -(-self.vocab_size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE

    @classmethod
    def named(cls, size: str, vocab_size: int, block_size: int, **overrides) -> GPTConfig:
        """A named size from `SIZES`; keyword arguments that are not None override it."""
        if size not in SIZES:
            raise ValueError(f"unknown model size {size!r} (known: {', '.join(SIZES)})")
        n_layer, n_head, n_embd = SIZES[size]
        shape = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}
        shape.update({k: v for k, v in overrides.items() if v is not None})
        return cls(vocab_size=vocab_size, block_size=block_size, **shape)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.dropout = cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.proj_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, width = x.shape
        heads = self.qkv(x).view(batch, time, 3, self.n_head, width // self.n_head)
        q, k, v = heads.permute(2, 0, 3, 1, 4)  # each (batch, head, time, head_dim)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(batch, time, width)
        return self.proj_dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.up = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.up(x), approximate="tanh")))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_attn = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_mlp = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x))
        return x + self.mlp(self.ln_mlp(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig, checkpoint_blocks: bool = False):
        """`checkpoint_blocks`: activation checkpointing, each block recomputed in the backward pass
        (Chen et al. 2016), trading a second forward pass for the blocks' activations."""
        super().__init__()
        self.cfg = cfg
        self.checkpoint_blocks = checkpoint_blocks
        self.token_embedding = nn.Embedding(cfg.padded_vocab_size, cfg.n_embd)
        self.position_embedding = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_final = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.padded_vocab_size, bias=False)
        self.lm_head.weight = self.token_embedding.weight
        self.apply(self._init_weights)
        # GPT-2: scale the init of each residual branch's output projection by 1/sqrt(2·n_layer),
        # so the residual stream's variance does not grow with depth.
        for name, param in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm's output (batch, time, n_embd) for token ids `idx` (batch, time)."""
        time = idx.shape[1]
        if time > self.cfg.block_size:
            raise ValueError(f"sequence of {time} tokens exceeds the context of {self.cfg.block_size}")
        positions = torch.arange(time, device=idx.device)
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))
        for block in self.blocks:
            if self.checkpoint_blocks and self.training:  # keep the block's input, recompute the rest
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.ln_final(x)

    def forward(self, idx: torch.Tensor, targets: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits (batch, time, vocab_size) for token ids `idx` (batch, time); with `targets`
        (batch, time), the mean next-token loss instead, computed without the full logits."""
        hidden = self.hidden(idx)
        if targets is not None:
            return chunked_cross_entropy(hidden, self.lm_head.weight, targets, self.cfg.vocab_size)
        return self.lm_head(hidden)[..., :self.cfg.vocab_size]

    def num_params(self) -> int:
        """Distinct parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> int:
        """Training FLOPs per token, 6N + 12·L·H·Q·T (Chowdhery et al. 2022, PaLM, appendix B).

        N counts the weights that multiply: every parameter except the position embedding,
        which is a lookup. The tied token embedding stays in, as it is the output layer's matrix.
        The second term is attention's QKᵀ and AV products (H heads of width Q over T positions).
        """
        cfg = self.cfg
        n = self.num_params() - self.position_embedding.weight.numel()
        return 6 * n + 12 * cfg.n_layer * cfg.n_head * (cfg.n_embd // cfg.n_head) * cfg.block_size


# Positions per chunk of the loss: about 2^27 logits (512 MiB in fp32) at a time.
_CHUNK_LOGITS = 1 << 27


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of `hidden @ weight.T` against `targets`, a chunk of positions at a time.

    Each chunk's logits are computed (in the autocast dtype when autocast is on, accumulated in
    fp32), turned into the loss and, when a gradient is wanted, into the gradients of `hidden`
    and `weight` at once (d loss/d logits = softmax − one-hot), then dropped; the backward pass
    only scales what the forward pass stored. The ids from `vocab_size` on get −inf logits.
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, vocab_size, compute_dtype, want_grad):
        rows = hidden.shape[0]
        chunk = max(1, _CHUNK_LOGITS // weight.shape[0])
        accumulate = torch.promote_types(hidden.dtype, torch.float32)
        w = weight.to(compute_dtype)
        total = torch.zeros((), dtype=accumulate, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if want_grad else None
        grad_weight = torch.zeros(weight.shape, dtype=accumulate, device=weight.device) if want_grad else None
        for start in range(0, rows, chunk):
            h = hidden[start:start + chunk].to(compute_dtype)
            logits = (h @ w.T).to(accumulate)
            logits[:, vocab_size:] = float("-inf")
            t = targets[start:start + chunk]
            picked = torch.arange(len(t), device=t.device), t
            log_probs = torch.log_softmax(logits, dim=-1)
            total -= log_probs[picked].sum()
            if want_grad:
                probs = log_probs.exp_()
                probs[picked] -= 1.0
                probs /= rows
                g = probs.to(compute_dtype)
                grad_hidden[start:start + chunk] = (g @ w).to(hidden.dtype)
                grad_weight += (g.T @ h).to(accumulate)
        if want_grad:
            ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return total / rows

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output, grad_weight * grad_output, None, None, None, None


def chunked_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                          vocab_size: int) -> torch.Tensor:
    """Mean over positions of −log p(x_t | x_<t) with logits `hidden @ weight.T`, the ids from
    `vocab_size` on excluded; at least fp32 whatever precision autocast runs the matmuls in."""
    device = hidden.device.type
    compute_dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
    want_grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    return _ChunkedCrossEntropy.apply(hidden.flatten(0, 1), weight, targets.flatten(), vocab_size,
                                      compute_dtype, want_grad)


def pretraining_loss(model: nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """The pretraining objective on packed rows of seq_len + 1 ids: inputs [:, :-1], targets [:, 1:]."""
    return model(rows[:, :-1], rows[:, 1:])
