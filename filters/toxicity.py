"""Toxicity: a listed-word score from the LDNOOBW lists, and optionally a fastText classifier's score.

C4 (Raffel et al. 2020, section 2.2) dropped every page containing one word of the `en` list
(`mode="any"`). That rule removes much medical, sex-education and LGBTQ text (Dodge et al. 2021,
"Documenting Large Webtext Corpora", section 4), so the default (`mode="ratio"`) drops a document
only when listed words make up more than `max_word_ratio` of its words; `mode="off"` only measures.

Words are counted per language, with the list of the document's language (set by langid); a
language without a list is not word-scored. In languages written without spaces the ratio is
the share of non-space characters inside listed words, since there are no words to count.

The word lists and the classifier are read through the `SideFiles` given (local by default; the
pipeline passes Beam's file systems, so both may be remote), once per worker process.

The classifier is any fastText model given by path, such as Dolma's Jigsaw classifiers
(`jigsaw_fasttext_bigrams_hatespeech_final.bin`, label `__label__toxic`; the NSFW one, label
`__label__nsfw`); its score is the probability of `classifier_label` on the document as one line.

`profanity_check=True` adds the score of alt-profanity-check (a linear SVM over bag-of-words trained
on labelled comments, shipped in its wheel; install the `toxicity` extra). On the 101 labelled Jigsaw
comments it finds 10 of the 13 toxic ones at 0.77 precision, where the word-list ratio finds 7 at 0.78.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

from tokenmill.filters.badwords import BadWordMatcher, list_languages
from tokenmill.filters.base import Bounds, DocumentFilter, SignalTypes
from tokenmill.filters.document import Document
from tokenmill.filters.langid import MAX_PREDICT_CHARS, load_fasttext_model
from tokenmill.filters.sanity import UNSPACED_LANGUAGES
from tokenmill.filters.side_files import LOCAL, SideFiles, local_path
from tokenmill.filters.textguard import DEFAULT_MAX_CHARS, unfit_reason

Mode = Literal["ratio", "any", "off"]
# One listed word in fifty: the Jigsaw comments labelled toxic that contain a listed word run at
# 0.022 and up, while a web page that names a body part or an identity a few times stays below.
DEFAULT_MAX_WORD_RATIO = 0.02
DEFAULT_CLASSIFIER_LABEL = "__label__toxic"
DEFAULT_MAX_CLASSIFIER_SCORE = 0.5


class ToxicityFilter(DocumentFilter):
    """Score listed words (and a classifier when given); drop by `mode` and the thresholds."""

    stage = "toxicity"

    def __init__(self, mode: Mode = "ratio", max_word_ratio: float = DEFAULT_MAX_WORD_RATIO,
                 lists: Union[str, Path, None] = None, default_language: str = "en",
                 classifier_model: Optional[str] = None, classifier_label: str = DEFAULT_CLASSIFIER_LABEL,
                 max_classifier_score: Optional[float] = DEFAULT_MAX_CLASSIFIER_SCORE,
                 profanity_check: bool = False, max_profanity_score: Optional[float] = DEFAULT_MAX_CLASSIFIER_SCORE,
                 max_chars: int = DEFAULT_MAX_CHARS, files: SideFiles = LOCAL):
        if mode not in ("ratio", "any", "off"):
            raise ValueError(f"mode: {mode!r} is not one of ratio, any, off")
        self.mode = mode
        self.max_word_ratio = max_word_ratio
        self.lists = str(lists) if lists is not None else None
        self.files = files
        self.languages = frozenset(list_languages(self.lists, files))
        self.default_language = default_language
        self.classifier_model = classifier_model
        self.classifier_label = classifier_label
        self.max_classifier_score = max_classifier_score
        self.profanity_check = profanity_check
        self.max_profanity_score = max_profanity_score
        self.max_chars = max_chars
        self._profanity = None
        self._matchers: dict[str, BadWordMatcher] = {}
        self._classifier = None

    def signal_types(self) -> SignalTypes:
        signals = {"toxicity_words": "int", "toxicity_word_ratio": "float"}
        if self.classifier_model:
            signals["toxicity_score"] = "float"
        if self.profanity_check:
            signals["profanity_score"] = "float"
        return signals

    def thresholds(self) -> dict[str, Bounds]:
        bounds: dict[str, Bounds] = {}
        if self.mode == "ratio":
            bounds["toxicity_word_ratio"] = (None, self.max_word_ratio)
        elif self.mode == "any":
            bounds["toxicity_words"] = (None, 0)
        if self.classifier_model and self.max_classifier_score is not None:
            bounds["toxicity_score"] = (None, self.max_classifier_score)
        if self.profanity_check and self.max_profanity_score is not None:
            bounds["profanity_score"] = (None, self.max_profanity_score)
        return bounds

    def setup(self) -> None:
        if self.profanity_check:
            try:
                from profanity_check import predict_prob
            except ImportError as error:
                raise ImportError("profanity_check needs the toxicity extra: pip install 'tokenmill[toxicity]'") from error
            self._profanity = predict_prob
        if self.classifier_model:
            self._classifier = load_fasttext_model(local_path(self.classifier_model, self.files))
            if self.classifier_label not in self._classifier.get_labels():
                raise ValueError(f"classifier_label: {self.classifier_label!r} is not a label of "
                                 f"{self.classifier_model} ({', '.join(self._classifier.get_labels())})")

    def _matcher(self, lang: str) -> BadWordMatcher:
        matcher = self._matchers.get(lang)
        if matcher is None:
            matcher = self._matchers[lang] = BadWordMatcher.for_language(lang, self.lists, self.files)
        return matcher

    def word_score(self, text: str, lang: Optional[str]) -> tuple[Optional[int], Optional[float]]:
        """(listed words, their ratio) in `text` by `lang`'s list; (None, None) for a language without one."""
        lang = lang or self.default_language
        if lang not in self.languages:
            return None, None
        matches = self._matcher(lang).find(text)
        if lang in UNSPACED_LANGUAGES:
            letters = len(text) - sum(1 for ch in text if ch.isspace())
            covered = sum(m.end - m.start for m in matches)
            return len(matches), round(covered / letters, 6) if letters else 0.0
        words = len(text.split())
        return len(matches), round(len(matches) / words, 6) if words else 0.0

    def classifier_score(self, text: str) -> float:
        """The classifier's probability of `classifier_label` for `text`."""
        line = " ".join(text[:MAX_PREDICT_CHARS].split())
        labels, probabilities = self._classifier.predict(line, k=-1)
        return round(min(float(dict(zip(labels, probabilities)).get(self.classifier_label, 0.0)), 1.0), 6)

    def __call__(self, doc: Document) -> Optional[str]:
        unfit = unfit_reason(doc.text, self.max_chars)
        if unfit:
            return unfit
        if (self.classifier_model and self._classifier is None) or (self.profanity_check and self._profanity is None):
            self.setup()
        count, ratio = self.word_score(doc.text, doc.lang)
        doc.signals["toxicity_words"], doc.signals["toxicity_word_ratio"] = count, ratio
        if self.classifier_model:
            doc.signals["toxicity_score"] = self.classifier_score(doc.text)
        if self.profanity_check:
            doc.signals["profanity_score"] = round(float(self._profanity([doc.text])[0]), 6)
        if self.mode == "any" and count:
            return "bad_words"
        if self.mode == "ratio" and ratio is not None and ratio > self.max_word_ratio:
            return "bad_word_ratio"
        if (self.classifier_model and self.max_classifier_score is not None
                and doc.signals["toxicity_score"] > self.max_classifier_score):
            return "classifier"
        if (self.profanity_check and self.max_profanity_score is not None
                and doc.signals["profanity_score"] > self.max_profanity_score):
            return "profanity"
        return None

    def __getstate__(self):
        return {**self.__dict__, "_matchers": {}, "_classifier": None, "_profanity": None}
