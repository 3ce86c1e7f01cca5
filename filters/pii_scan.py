"""Presidio's pattern recognizers, run only where a pattern can match.

`PiiScanner.analyze(text)` returns the spans `AnalyzerEngine.analyze(text, "en", entities)` returns
(same types, offsets and scores), at a fraction of the cost:

- every regex recognizer runs on a document only when a cheap test passes that every one of its
  matches must pass (an `@` for e-mail, a dotted digit pair or a colon pair for IP...: `PRESCANS`);
- the phone recognizer (python-phonenumbers, eight regions, most of presidio's time) runs only on
  the windows that can hold a number: maximal runs of characters that phonenumbers' own candidate
  pattern can contain, holding a chain of digits at least as long as the shortest valid number (4,
  from phonenumbers' metadata), plus the one character before and the three after that the matcher
  looks at. No candidate crosses a character outside that alphabet, so each window yields the
  candidates, and verdicts, that the whole text does. Within a window, only the regions for which
  some run of digit groups passes the matcher's own validity check are asked. Window results are
  cached per worker.

With a spaCy NER model (PERSON, LOCATION), presidio's context words change scores by the words
around a span, so the scanner then calls presidio on the whole text.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Optional, Sequence


PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "IBAN_CODE", "US_SSN", "CRYPTO")
OPTIONAL_ENTITIES = ("URL",)
NER_ENTITIES = ("PERSON", "LOCATION")
LANGUAGE = "en"  # presidio files recognizers under a language; the patterns themselves are language-neutral

# Every character presidio's IGNORECASE [A-Z] / [a-z] can match (its regex engine folds the long s
# and the Kelvin sign; Python's also the dotted and dotless i): the pre-scans spell cases out, which
# lets Python's re skip ahead to a literal or a digit instead of testing every position.
LETTER = "A-Za-z\u0130\u0131\u017f\u212a"
# For each regex recognizer, a pattern that every match of every one of its patterns contains.
PRESCANS = {
    "EMAIL_ADDRESS": r"@",  # the pattern's [@]
    "CREDIT_CARD": r"\d{4}[- ]?\d{3}",  # its first group, the separator and the start of the second
    "IBAN_CODE": rf"(?<=[{LETTER}]{{2}})[0-9]{{2}}[ -]?[{LETTER}0-9]{{4}}",  # country, check digits, first block
    # IPv4 (and its mapped and embedded forms): octet "." octet; IPv6: "::" or hex ":" hex.
    "IP_ADDRESS": r"[0-9]\.[0-9]|::|[0-9A-Fa-f]:[0-9A-Fa-f]",
    "US_SSN": r"[0-9]{3}[- .]?[0-9]{2}[- .]?[0-9]{4}",  # covers 5-4, 3-6, 3-2-4, 9 and 3.2.4 digits
    "CRYPTO": rf"[13][{LETTER}0-9]{{25}}",  # "1", "3" or "bc1", then at least 25 address characters
    "URL": rf"\.[{LETTER}]{{2}}",  # the dot before the TLD and its first two letters
}
# The matcher reads the character before a candidate and up to three after it (time-stamp suffix ":mm").
PHONE_MARGIN_BEFORE, PHONE_MARGIN_AFTER = 1, 3
MAX_CACHED_WINDOWS = 200_000
_DIGIT_GROUPS = re.compile(r"\d+")
_PLUS_OR_X = re.compile("[+\uff0bxX]")  # a plus makes a number international; letters may be read as digits
_MAX_DIGIT_BLOCK = 20  # longer digit runs are cut by the matcher's pattern, not at punctuation
# phonenumbers refuses national numbers over 17 digits; a country code (3 at most) and an
# international prefix add fewer than 10: no longer digit string is a valid number.
_MAX_NUMBER_DIGITS = 30


def no_network() -> None:
    """Keep tldextract (the e-mail recognizer's domain check) off the network: it fetches the public
    suffix list unless told not to, and uses its bundled snapshot instead. Call before importing presidio;
    if tldextract was imported earlier, its default extractor is replaced by an offline one."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    import tldextract.tldextract as tld

    if tld.TLD_EXTRACTOR.suffix_list_urls:
        tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=())


def build_analyzer(entities: Sequence[str], spacy_model: Optional[str] = None,
                   phone_regions: Optional[Sequence[str]] = None):
    """An AnalyzerEngine with exactly the recognizers for `entities` (the phone recognizer for
    `phone_regions`, default presidio's), and no spaCy model unless named."""
    no_network()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr

    by_entity = {
        "EMAIL_ADDRESS": pr.EmailRecognizer, "PHONE_NUMBER": pr.PhoneRecognizer,
        "CREDIT_CARD": pr.CreditCardRecognizer, "IP_ADDRESS": pr.IpRecognizer,
        "IBAN_CODE": pr.IbanRecognizer, "US_SSN": pr.UsSsnRecognizer, "CRYPTO": pr.CryptoRecognizer,
        "URL": pr.UrlRecognizer,
    }
    recognizers = [by_entity[e]() for e in entities if e in by_entity and e != "PHONE_NUMBER"]
    if "PHONE_NUMBER" in entities:
        regions = pr.PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS if phone_regions is None else tuple(phone_regions)
        recognizers.append(pr.PhoneRecognizer(supported_regions=regions))
    models = [{"lang_code": LANGUAGE, "model_name": spacy_model or "none"}]
    if spacy_model:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        nlp_engine = SpacyNlpEngine(models=models)
        ner = [e for e in entities if e in NER_ENTITIES]
        if ner:
            recognizers.append(pr.SpacyRecognizer(supported_language=LANGUAGE, supported_entities=ner))
    else:
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        nlp_engine = NoOpNlpEngine(models=models)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def pattern_alphabet(pattern: re.Pattern) -> list[str]:
    """Character-class items (literals, ranges, \\d) covering every character a match of `pattern`
    can contain; ValueError for a construct (like `.` or a negated class) that has no such bound."""
    from re import _constants as c, _parser

    items: list[str] = []

    def walk(parsed) -> None:
        for op, av in parsed:
            if op is c.LITERAL:
                items.append(re.escape(chr(av)))
            elif op is c.IN:
                for item_op, item in av:
                    if item_op is c.LITERAL:
                        items.append(re.escape(chr(item)))
                    elif item_op is c.RANGE:
                        items.append(f"{re.escape(chr(item[0]))}-{re.escape(chr(item[1]))}")
                    elif item_op is c.CATEGORY and item is c.CATEGORY_DIGIT:
                        items.append(r"\d")
                    else:
                        raise ValueError(f"no alphabet for {item_op} {item} in {pattern.pattern!r}")
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                walk(av[2])
            elif op is c.SUBPATTERN:
                walk(av[-1])
            elif op is c.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op is not c.AT:  # anchors match no character
                raise ValueError(f"no alphabet for {op} in {pattern.pattern!r}")

    walk(_parser.parse(pattern.pattern, pattern.flags))
    return items


def _shortest_national_number(metadata) -> int:
    return min(metadata.general_desc.possible_length)


def min_international_digits() -> int:
    """The fewest digits of a number written with its country code: calling code plus the shortest
    national number of its region (or non-geographic code)."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    lengths = [len(str(phonenumbers.country_code_for_region(r))) + _shortest_national_number(PhoneMetadata.metadata_for_region(r))
               for r in phonenumbers.SUPPORTED_REGIONS]
    lengths += [len(str(cc)) + _shortest_national_number(PhoneMetadata.metadata_for_nongeo_region(cc))
                for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    return min(lengths)


def min_phone_digits(region: str) -> int:
    """The fewest digits of a valid number that a matcher for default `region` can report.

    A valid number's national number has one of its region's possible lengths; written without a
    country code it belongs to a region sharing `region`'s calling code; written with one (after
    "+" or an international prefix) it has at least `min_international_digits()` digits."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    international = min_international_digits()
    code = phonenumbers.country_code_for_region(region)
    if code == 0:  # an unknown region: only numbers with a country code are found
        return international
    national = min(_shortest_national_number(PhoneMetadata.metadata_for_region(r))
                   for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code] if PhoneMetadata.metadata_for_region(r))
    return min(national, international)


def phone_patterns() -> tuple[re.Pattern, re.Pattern]:
    """(windows, chains): runs of characters a phonenumbers candidate can contain that hold a digit,
    and chains of digits joined by at most four of the matcher's punctuation characters (the digits
    of one number's national part always lie in one such chain)."""
    from phonenumbers.phonenumbermatcher import _PATTERN
    from phonenumbers.phonenumberutil import _VALID_PUNCTUATION

    alphabet = pattern_alphabet(_PATTERN)
    others = "".join(item for item in alphabet if item != r"\d")
    windows = re.compile(rf"[{others}]*+\d[{''.join(alphabet)}]*+", _PATTERN.flags)
    chains = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}]{{0,4}}\d)*", _PATTERN.flags)
    return windows, chains


class PiiScanner:
    """Presidio's findings for `entities`, computed on the parts of a text where they can be."""

    def __init__(self, entities: Sequence[str] = PATTERN_ENTITIES, spacy_model: Optional[str] = None):
        self.entities = tuple(entities)
        self.spacy_model = spacy_model
        self.engine = build_analyzer(self.entities, spacy_model)
        self._prescans = {e: re.compile(PRESCANS[e]) for e in self.entities if e in PRESCANS}
        self._phone = "PHONE_NUMBER" in self.entities and not spacy_model
        if self._phone:
            from presidio_analyzer.predefined_recognizers import PhoneRecognizer

            self._windows, self._chains = phone_patterns()
            self._regions = [(r, min_phone_digits(r)) for r in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS]
            self._fewest_digits = min(digits for _, digits in self._regions)
            self._phone_engines: dict[tuple, object] = {}
            self._validity: dict[tuple, bool] = {}
            self._window_cache: dict[str, tuple] = {}

    def analyze_plainly(self, text: str) -> list:
        """What presidio finds calling every recognizer on the whole text (the reference)."""
        return self.engine.analyze(text, LANGUAGE, entities=list(self.entities))

    def analyze(self, text: str) -> list:
        """The same spans as `analyze_plainly`, sorted by position."""
        if self.spacy_model:
            return sorted(self.analyze_plainly(text), key=_position)
        candidates = [e for e, prescan in self._prescans.items() if prescan.search(text)]
        results = self.engine.analyze(text, LANGUAGE, entities=candidates) if candidates else []
        if self._phone:
            results.extend(self._phones(text))
        return sorted(results, key=_position)

    def _phones(self, text: str) -> list:
        from presidio_analyzer import RecognizerResult

        found = []
        for run in self._windows.finditer(text):
            begin = max(run.start() - PHONE_MARGIN_BEFORE, 0)
            window = text[begin:run.end() + PHONE_MARGIN_AFTER]
            spans = self._window_cache.get(window)
            if spans is None:
                if len(self._window_cache) >= MAX_CACHED_WINDOWS:
                    self._window_cache.clear()
                spans = self._window_cache[window] = self._window_phones(window, run.start() - begin, run.end() - begin)
            found.extend(RecognizerResult("PHONE_NUMBER", begin + s, begin + e, score) for s, e, score in spans)
        return found

    def _window_phones(self, window: str, core_start: int, core_end: int) -> tuple:
        """Presidio's phone spans inside window[core_start:core_end].

        Only the regions whose shortest reportable number fits the window's longest digit chain
        are asked, and only when some candidate can be valid. Without a plus sign or an "x", a
        candidate's validity depends on its digits alone, and its digits are consecutive digit
        groups of one chain (candidates and the matcher's inner matches start and end at
        punctuation); so only the regions where one of those digit strings passes the matcher's
        check are asked (all of them when a plus, an "x" or a group too long for one candidate is there)."""
        chains = [_DIGIT_GROUPS.findall(c.group()) for c in self._chains.finditer(window, core_start, core_end)]
        longest = max(sum(map(len, groups)) for groups in chains)
        if longest < self._fewest_digits:
            return ()
        regions = tuple(r for r, fewest in self._regions if fewest <= longest)
        plain = not _PLUS_OR_X.search(window, core_start, core_end) and all(
            len(g) <= _MAX_DIGIT_BLOCK for groups in chains for g in groups)
        if plain:
            numbers = {number for groups in chains for number in _group_runs(groups, self._fewest_digits)}
            regions = tuple(r for r in regions if any(self._valid(number, r) for number in numbers))
            if not regions:
                return ()
        engine = self._phone_engines.get(regions)
        if engine is None:
            engine = self._phone_engines[regions] = build_analyzer(["PHONE_NUMBER"], phone_regions=regions)
        return tuple((r.start, r.end, r.score) for r in engine.analyze(window, LANGUAGE, entities=["PHONE_NUMBER"])
                     if core_start <= r.start and r.end <= core_end)

    def _valid(self, digits: str, region: str) -> bool:
        """Whether the matcher for `region` accepts `digits` as a number at presidio's leniency
        (VALID: a valid number, with its national prefix where the region's format requires one);
        memoised. `digits` has no "x", so the leniency's x-character rule holds trivially."""
        import phonenumbers
        from phonenumbers.phonenumbermatcher import _verify

        key = (digits, region)
        verdict = self._validity.get(key)
        if verdict is None and not _may_be_valid(digits, region):
            verdict = self._validity[key] = False
        if verdict is None:
            try:
                number = phonenumbers.parse(digits, region, keep_raw_input=True)
                verdict = bool(_verify(phonenumbers.Leniency.VALID, number, digits, None))
            except phonenumbers.NumberParseException:
                verdict = False
            if len(self._validity) >= MAX_CACHED_WINDOWS:
                self._validity.clear()
            self._validity[key] = verdict
        return verdict


@lru_cache(maxsize=None)
def _national_shape(region: str) -> Optional[tuple]:
    """(international prefix, calling code, national prefix, valid national numbers' pattern) for numbers
    dialled in `region`; None where a region sharing its calling code rewrites the national prefix
    instead of stripping it."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.international_prefix:
        return None
    sharing = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[metadata.country_code]]
    if any(m.national_prefix_transform_rule for m in sharing):
        return None
    national_prefix = metadata.national_prefix_for_parsing or metadata.national_prefix
    national = "|".join(f"(?:{desc.national_number_pattern})" for m in sharing for desc in _number_types(m)
                        if desc is not None and desc.national_number_pattern)
    return (re.compile(metadata.international_prefix), str(metadata.country_code),
            re.compile(national_prefix) if national_prefix else None, re.compile(national))


def _number_types(metadata) -> tuple:
    """The descriptions a valid number must match one of (phonenumbers' number-type check)."""
    return (metadata.premium_rate, metadata.toll_free, metadata.mobile, metadata.fixed_line, metadata.shared_cost,
            metadata.voip, metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail)


def _may_be_valid(digits: str, region: str) -> bool:
    """A necessary condition for `digits`, dialled in `region` without a plus, to be a valid number,
    cheaper than parsing. Unless they start with the international prefix or the calling code,
    parsing keeps the digits as the national number or strips the national prefix from their start
    (`national_prefix_for_parsing`); a valid number's national number matches the pattern of one of
    its region's number types."""
    shape = _national_shape(region)
    if shape is None:
        return True
    international_prefix, calling_code, national_prefix, national = shape
    if digits.startswith(calling_code) or international_prefix.match(digits):
        return True
    if national.fullmatch(digits):
        return True
    stripped = national_prefix.match(digits) if national_prefix else None
    return bool(stripped) and national.fullmatch(digits[stripped.end():]) is not None


def _group_runs(groups: list[str], fewest: int):
    """The digits of each run of consecutive groups holding `fewest` to `_MAX_NUMBER_DIGITS` digits."""
    for i in range(len(groups)):
        number = ""
        for group in groups[i:]:
            number += group
            if len(number) > _MAX_NUMBER_DIGITS:
                break
            if len(number) >= fewest:
                yield number


def _position(result) -> tuple:
    return (result.start, result.end, result.entity_type)
