"""The models `tokenmill eval` scores: a tokenmill run's checkpoint, or a Hugging Face causal LM folder.

Both run in float32, in eval mode, on the device asked for (`auto`: the GPU when torch sees one).
A run's model encodes text with the tokenizer that packed its data, as `tokenmill pack` does
(`tokenizers`, `<|endoftext|>` inside a text encoded as text); its prefix id is end-of-text, the
id before every document in its training rows. A Hugging Face model uses its own tokenizer; its
prefix id is the tokenizer's bos id, else its eos id, as lm-evaluation-harness chooses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from tokenmill.jobs.train.distributed import pick_device
from tokenmill.jobs.train.trained import eot_id, load_trained, tokenizer_path
from tokenmill.transforms.tokenize import Encoder

# transformers' `model_max_length` when a tokenizer sets none (int(1e30)).
UNSET_MAX_LENGTH = 1000000000000000019884624838656
# Logits computed at once in `log_probs`, whatever the vocabulary: on a GPU about 2^26 floats (256 MiB);
# on the CPU 2^20 (4 MiB, which stays in cache: 1.4-1.8x the tokens per CPU-second of 2^26, measured
# on a tiny proxy with a vocabulary of 8,192).
CHUNK_LOGITS = {"cuda": 1 << 26, "cpu": 1 << 20}


def gathered_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_softmax(logits)[targets] in float32, for (n, vocab) logits and (n,) targets."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


class TokenmillModel:
    """A checkpoint of a `tokenmill train` run (the newest, or `step`'s)."""

    def __init__(self, run_dir: Path, step: Optional[int] = None, device: str = "auto",
                 tokenizer: Optional[Path] = None):
        trained = load_trained(run_dir, step)
        self.step, self.checkpoint = trained.step, trained.checkpoint
        self.tokenizer_json = tokenizer_path(run_dir, trained, tokenizer).read_text(encoding="utf-8")
        self.tokenizer_sha256 = trained.tokenizer.get("sha256")
        self.device = pick_device(device)
        self.model = trained.model.to(self.device)
        self.params = self.model.num_params()
        self.context = self.model.cfg.block_size
        prefix = eot_id(trained)
        if prefix is None:
            raise ValueError(f"{self.checkpoint}: its token manifest records no end-of-text id")
        self.prefix_id = prefix
        self.name = f"{run_dir} step {self.step}"
        self._encoder = Encoder(self.tokenizer_json, "hf")

    def encode_text(self, texts: list[str]) -> list[list[int]]:
        return self._encoder.encode_batch(texts)

    def encode_prompt(self, text: str) -> list[int]:
        return self._encoder.encode_batch([text])[0]

    def log_probs(self, inputs: torch.Tensor, targets: torch.Tensor, scored: torch.Tensor,
                  real: torch.Tensor) -> torch.Tensor:
        # `real` is not needed: under causal attention the padding after a row's inputs never reaches them.
        hidden, wanted = self.model.hidden(inputs)[scored], targets[scored]
        vocab = self.model.cfg.vocab_size
        rows = max(1, CHUNK_LOGITS.get(self.device.type, CHUNK_LOGITS["cpu"]) // self.model.cfg.padded_vocab_size)
        return torch.cat([gathered_log_probs(self.model.lm_head(hidden[i:i + rows])[:, :vocab], wanted[i:i + rows])
                          for i in range(0, len(hidden), rows)] or [hidden.new_zeros(0)])


class HuggingFaceModel:
    """A folder that `transformers.AutoModelForCausalLM` loads (`tokenmill export --hf` writes one),
    read without the network."""

    def __init__(self, folder: Path, device: str = "auto"):
        try:
            import transformers
        except ImportError:
            raise ValueError("--hf needs transformers: pip install 'tokenmill[hf]'") from None
        self.device = pick_device(device)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, dtype=torch.float32).to(self.device).eval()
        self.params = sum(p.numel() for p in self.model.parameters())
        self.context = model_context(self.model.config, self.tokenizer)
        prefix = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        if prefix is None:
            raise ValueError(f"{folder}: the tokenizer has neither a bos nor an eos token to start a document with")
        self.prefix_id = prefix
        self.name = str(folder)
        self.step = None

    def encode_text(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def encode_prompt(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def log_probs(self, inputs: torch.Tensor, targets: torch.Tensor, scored: torch.Tensor,
                  real: torch.Tensor) -> torch.Tensor:
        logits = self.model(input_ids=inputs, attention_mask=real.long()).logits
        return gathered_log_probs(logits[scored], targets[scored])


def model_context(config, tokenizer, default: int = 2048) -> int:
    """The positions a transformers model sees, found as lm-evaluation-harness's `resolve_max_length`
    finds them: the (text) config's `n_positions`, `max_position_embeddings` or `n_ctx`, else the
    tokenizer's `model_max_length` unless it is transformers' "unset" value, else 2048."""
    config = getattr(config, "text_config", None) or config
    for attribute in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(config, attribute, None) is not None:
            return int(getattr(config, attribute))
    if getattr(tokenizer, "model_max_length", None) not in (None, UNSET_MAX_LENGTH):
        return int(tokenizer.model_max_length)
    return default
