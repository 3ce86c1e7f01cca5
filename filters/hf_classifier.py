"""A Hugging Face sequence-classification model as a quality scorer (FineWeb-Edu's classifier is one).

The model and its tokenizer load from a `save_pretrained` folder (nothing is downloaded; a remote
folder is copied to the worker through the `SideFiles` given), the model once per worker process,
on the GPU when there is one and on the CPU otherwise. Documents are scored in batches, each
truncated to `max_tokens`. A model with one output (a regression head, as
FineWeb-Edu's 0–5 educational score) scores with that output; one with classes scores with the
probability of the class named by `label`. Needs the `hf` extra (`pip install 'tokenmill[hf]'`).
"""
from __future__ import annotations

from typing import Sequence

from tokenmill.filters.side_files import LOCAL, SideFiles, local_path, shared

DEFAULT_MAX_TOKENS = 512
DEFAULT_BATCH_SIZE = 32   # texts per forward pass
INSTALL = "pip install 'tokenmill[hf]'"


def transformers_module():
    """The `transformers` package, or an ImportError that says how to install it."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError(f"a Hugging Face quality model needs the hf extra: {INSTALL}") from error
    return transformers


def load_classifier(folder: str):
    """(model, device) of a local `save_pretrained` folder, the model in eval mode on the GPU when there
    is one. Inference only reads the weights, so threads share it (not its tokenizer: a fast tokenizer
    changes its padding state on every call)."""
    import torch

    model = transformers_module().AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), device


class HfScorer:
    def __init__(self, path: str, label: str, max_tokens: int = DEFAULT_MAX_TOKENS,
                 batch_size: int = DEFAULT_BATCH_SIZE, files: SideFiles = LOCAL):
        self.path = path
        self.label = label
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.files = files
        self._model = self._tokenizer = self._class = self._device = None

    def setup(self) -> None:
        folder = local_path(self.path, self.files)
        self._model, self._device = shared(("hf classifier", self.path), lambda: load_classifier(folder))
        self._tokenizer = transformers_module().AutoTokenizer.from_pretrained(folder, local_files_only=True)
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
