"""A Hugging Face sequence-classification model as a quality scorer (FineWeb-Edu's classifier is one).

The model and its tokenizer load from a local folder (`save_pretrained` output; nothing is
downloaded), once per worker, on the GPU when there is one and on the CPU otherwise. Documents are
scored in batches, each truncated to `max_tokens`. A model with one output (a regression head, as
FineWeb-Edu's 0–5 educational score) scores with that output; one with classes scores with the
probability of the class named by `label`. Needs the `hf` extra (`pip install 'tokenmill[hf]'`).
"""
from __future__ import annotations

from typing import Sequence

DEFAULT_MAX_TOKENS = 512
DEFAULT_BATCH_SIZE = 32   # texts per forward pass


class HfScorer:
    def __init__(self, path: str, label: str, max_tokens: int = DEFAULT_MAX_TOKENS,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        self.path = path
        self.label = label
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._model = self._tokenizer = self._class = self._device = None

    def setup(self) -> None:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as error:
            raise ImportError("a Hugging Face quality model needs the hf extra: pip install 'tokenmill[hf]'") from error
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(self.path, local_files_only=True)
        self._model.to(self._device).eval()
        labels = self._model.config.label2id
        if self._model.config.num_labels > 1:
            if self.label not in labels:
                raise ValueError(f"label: {self.label!r} is not a class of {self.path} ({', '.join(labels)})")
            self._class = labels[self.label]

    def scores(self, texts: Sequence[str]) -> list[float]:
        """The score of each text, `batch_size` texts per forward pass."""
        import torch

        if self._model is None:
            self.setup()
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self._tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                    max_length=self.max_tokens, return_tensors="pt").to(self._device)
            with torch.inference_mode():
                logits = self._model(**batch).logits.float()
            if self._class is None:
                out += logits[:, 0].tolist()
            else:
                out += torch.softmax(logits, dim=-1)[:, self._class].tolist()
        return out

    def __getstate__(self):
        return {**self.__dict__, "_model": None, "_tokenizer": None, "_class": None, "_device": None}
