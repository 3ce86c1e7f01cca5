"""Presidio's phone recognizer, with phonenumbers parsing only what can be a number.

Presidio's `PhoneRecognizer` runs python-phonenumbers' matcher once per region (eight by default)
over the whole text, and the matcher parses every candidate it meets (about 0.1 ms a parse): most
of presidio's time. `PhoneScanner.find(text)` returns the same spans (offsets and scores):

- only on windows that can hold a number: maximal runs of characters that phonenumbers' own
  candidate pattern can contain, holding a chain of digits (joined by the matcher's punctuation)
  at least as long as the shortest valid number, plus the one character before and the three
  after that the matcher looks at. No candidate crosses a character outside that alphabet, so
  each window yields the candidates, and verdicts, that the whole text does;
- only for the regions where a candidate of the window can be a number. The matcher's walk over a
  text depends on the region only through its verdicts, so the walk it makes when every verdict
  is "no" (`_CandidateWalk`) is the one each region makes up to its first match: a region where
  none of those candidates can be a number finds nothing;
- with each candidate's number per region worked out once (`_Verdicts`): a necessary condition
  compiled from the region's metadata (`RegionRule`) rules out nearly all of them without parsing,
  and a number written after a plus, or after an international prefix, is parsed once for every
  region that reads it so. The region's matcher takes its numbers from there and makes only the
  checks on neighbouring characters itself (`_RegionMatcher`); presidio's de-duplication (all
  scores equal) keeps the matches no other match contains;
- with window results cached per worker.
"""
from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Optional, Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberMatch, PhoneNumberMatcher
from phonenumbers.phonenumbermatcher import (_DIGIT_BLOCK_LIMIT, _LEAD_CLASS_CHARS, _LEAD_PATTERN, _MATCHING_BRACKETS,
                                            _PATTERN, _PUB_PAGES, _formatting_rule_has_first_group_only, _verify)
from phonenumbers.re_util import fullmatch
from phonenumbers.phonenumberutil import (_PLUS_CHARS_PATTERN, _VALID_PUNCTUATION, _build_national_number_for_parsing,
                                          _is_viable_phone_number, _maybe_strip_extension, _normalize,
                                          _parse_prefix_as_idd, normalize_digits_only)

from tokenmill.filters.memo import BoundedMemo
from tokenmill.filters.pii_recognizers import PHONE_LENIENCY, PHONE_REGIONS, PHONE_SCORE
from tokenmill.filters.presidio_engine import without_contained
from tokenmill.filters.regex_windows import Runs, Window, pattern_shape, windows_with

# The matcher reads the character before a candidate and up to three after it (time-stamp suffix ":mm").
MARGIN_BEFORE, MARGIN_AFTER = 1, 3


def _shortest_national_number(metadata) -> int:
    return min(metadata.general_desc.possible_length)


@lru_cache(maxsize=1)
def min_international_digits() -> int:
    """The fewest digits of a number written with its country code: calling code plus the shortest
    national number of its region (or non-geographic code)."""
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
    international = min_international_digits()
    code = phonenumbers.country_code_for_region(region)
    if code == 0:  # an unknown region: only numbers with a country code are found
        return international
    national = min(_shortest_national_number(PhoneMetadata.metadata_for_region(r))
                   for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code] if PhoneMetadata.metadata_for_region(r))
    return min(national, international)


def _number_types(metadata) -> tuple:
    """The descriptions a valid number must match one of (phonenumbers' number-type check)."""
    return (metadata.premium_rate, metadata.toll_free, metadata.mobile, metadata.fixed_line, metadata.shared_cost,
            metadata.voip, metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail)


def _any_of(patterns) -> str:
    return "|".join(f"(?:{p})" for p in dict.fromkeys(p for p in patterns if p))


class RegionRule:
    """Necessary conditions, read from the region's metadata and compiled into expressions, for
    the digits of a number dialled in `region` without a plus: `may_be_valid` for a number
    phonenumbers' matcher reports at presidio's leniency (VALID), `may_be_valid_number` for one
    `is_valid_number` accepts.

    Parsing (`phonenumbers.parse`) keeps the digits as the national number, strips the national
    prefix (`national_prefix_for_parsing`, or rewrites it by `national_prefix_transform_rule`), or
    strips the region's calling code; digits after an international prefix are someone else's
    number, at least as long as the shortest international one. A valid national number matches a
    number-type pattern of a region sharing the calling code. VALID also wants the national prefix
    written where the format phonenumbers picks for a number kept whole wants it (`pattern`;
    `number_pattern` leaves that out). A prefix the parser rewrites is checked by rewriting it.
    Digits fewer than any valid number has (`min_phone_digits`) are refused without matching. The
    expressions (tens of kilobytes for the North American plan) are compiled on first use."""

    def __init__(self, region: str):
        metadata = PhoneMetadata.metadata_for_region(region)
        code = metadata.country_code
        main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(code))
        sharing = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]]
        national = _any_of(d.national_number_pattern for m in sharing for d in _number_types(m) if d is not None)
        prefix = _any_of([metadata.national_prefix_for_parsing, main.national_prefix_for_parsing])
        strip = f"(?:{prefix})?" if prefix else ""
        branches = [f"{code}{strip}{strip}(?:{national})"]
        if metadata.international_prefix:
            branches.append(f"(?:{metadata.international_prefix})\\d{{{min_international_digits()},}}")
        if prefix:
            branches.append(f"(?:{prefix})(?:{national})")  # the prefix stripped
            branches.append(f"(?=(?:{prefix}))(?:{national})")  # kept, but there to be seen
        fits = [f"(?={f.leading_digits_pattern[-1] if f.leading_digits_pattern else ''})(?:{f.pattern})$"
                for f in main.number_format]
        without_prefix = [f"(?={fit})" for fit, f in zip(fits, main.number_format) if not _prefix_required(f)]
        no_format = f"(?!{_any_of(fits)})" if fits else ""
        self.number_pattern = _any_of(branches + [national])
        self.pattern = _any_of(branches + [f"(?:{_any_of(without_prefix + [no_format])})(?:{national})"])
        self.shortest = min_phone_digits(region)
        # A prefix the parser rewrites (Brazil drops a carrier code), with the calling code before it or not.
        self._code = str(code)
        rewrites = {(m.national_prefix_for_parsing, m.national_prefix_transform_rule)
                    for m in (metadata, main) if m.national_prefix_transform_rule}
        self._rewrites = [(re.compile(prefix_pattern), rule) for prefix_pattern, rule in sorted(rewrites)]

    @cached_property
    def _rule(self) -> re.Pattern:
        return re.compile(self.pattern)

    @cached_property
    def _number_rule(self) -> re.Pattern:
        return re.compile(self.number_pattern)

    def may_be_valid(self, digits: str) -> bool:
        """False only if `digits` (ASCII) cannot be a VALID number dialled in the region."""
        if len(digits) >= self.shortest and self._rule.fullmatch(digits):
            return True
        return bool(self._rewrites) and self._may_be_rewritten(digits)

    def may_be_valid_number(self, digits: str) -> bool:
        """False only if `digits` (ASCII), parsed in the region, cannot pass `is_valid_number`."""
        if len(digits) >= self.shortest and self._number_rule.fullmatch(digits):
            return True
        return bool(self._rewrites) and self._may_be_rewritten(digits)

    def _may_be_rewritten(self, digits: str, rounds: int = 2) -> bool:
        """Whether a rewrite of the national prefix (as the parser does it: the prefix pattern's last
        group taking part) turns `digits`, or the digits after the calling code, into digits that
        can read as a number."""
        forms = [digits, digits[len(self._code):]] if digits.startswith(self._code) else [digits]
        for form in forms:
            for prefix, rule in self._rewrites:
                match = prefix.match(form)
                if match and match.groups() and match.groups()[-1] is not None:
                    rewritten = prefix.sub(rule, form, count=1)
                    if self._number_rule.fullmatch(rewritten) or (rounds > 1 and self._may_be_rewritten(rewritten, rounds - 1)):
                        return True
        return False


def _prefix_required(number_format) -> bool:
    rule = number_format.national_prefix_formatting_rule
    return bool(rule) and not number_format.national_prefix_optional_when_formatting \
        and not _formatting_rule_has_first_group_only(rule)


_GROUPING = PhoneNumberMatcher("", None)  # `_verify` asks a matcher for grouping checks (stricter leniencies) that read no state


def _parse(candidate: str, region):
    """`phonenumbers.parse` as the matcher calls it, or None where it raises."""
    try:
        return phonenumbers.parse(candidate, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return None


def verified(candidate: str, region, leniency: int = Leniency.VALID):
    """The number the matcher's `_parse_and_verify` for `region` reads from `candidate` and accepts,
    short of its look at the characters around it; None where it refuses it."""
    number = _parse(candidate, region)
    return number if number is not None and _verify(leniency, number, candidate, _GROUPING) else None


# ASCII digits and the ASCII punctuation of a number: nothing an extension, a plus or a letter
# could be read from, so parsing reads exactly these digits.
_SIMPLE_CANDIDATE = re.compile(r"[0-9()\[\]./ -]+")
_ASCII_PUNCTUATION = str.maketrans("", "", "()[]./ -")


class _Verdicts:
    """For each candidate string, {region: number} for the regions where it is `verified`, found
    with as few parses as possible; memoised."""

    def __init__(self, regions: tuple[str, ...], leniency: int):
        self.regions = regions
        self.leniency = leniency
        self.fewest_digits = min(min_phone_digits(r) for r in regions)
        self._ruled_out = leniency >= Leniency.VALID  # the region rules hold for VALID and stricter
        prefixes = {r: PhoneMetadata.metadata_for_region(r).international_prefix for r in regions}
        self._international_prefix = {r: re.compile(p) for r, p in prefixes.items() if p}
        self._memo = BoundedMemo()

    def __call__(self, candidate: str) -> dict:
        numbers = self._memo.get(candidate)
        if numbers is None:
            numbers = self._memo.put(candidate, self._numbers(candidate))
        return numbers

    def _numbers(self, candidate: str) -> dict:
        if self._ruled_out and _SIMPLE_CANDIDATE.fullmatch(candidate):
            return self._ruled(candidate, candidate.translate(_ASCII_PUNCTUATION), exact=True)
        try:
            national = _build_national_number_for_parsing(candidate)
        except phonenumbers.NumberParseException:
            return {}
        if not _is_viable_phone_number(national):
            return {}
        if _PLUS_CHARS_PATTERN.match(national):
            # A valid calling code after the plus makes the parse, and the verdict, the same in every region.
            number = _parse(candidate, None)
            if number is not None:
                return dict.fromkeys(self.regions, number) if _verify(self.leniency, number, candidate, _GROUPING) else {}
            return self._each(candidate, self.regions)
        if not self._ruled_out:
            return self._each(candidate, self.regions)
        # Parsing in any region reads the digits of the number before its extension; the national
        # prefix check reads those of the whole candidate. Where they agree, the VALID rule holds.
        digits = _normalize(_maybe_strip_extension(national)[1])
        return self._ruled(candidate, digits, exact=digits == normalize_digits_only(candidate))

    @cached_property
    def _rules(self) -> list[RegionRule]:
        return [RegionRule(r) for r in self.regions]

    def _ruled(self, candidate: str, digits: str, exact: bool) -> dict:
        """The numbers of `candidate` in the regions whose rule allows `digits`, the digits parsing
        reads from it (`exact`: the national prefix check reads the same digits). Regions whose
        international prefix starts the digits share one parse per remainder: the number after the
        prefix is the same wherever it was dialled."""
        if len(digits) < self.fewest_digits:
            return {}
        may_be = RegionRule.may_be_valid if exact else RegionRule.may_be_valid_number
        allowed = [r for r, rule in zip(self.regions, self._rules) if may_be(rule, digits)]
        if not allowed:
            return {}
        after_prefix = {}
        numbers = {}
        for region in allowed:
            prefix = self._international_prefix.get(region)
            stripped, rest = _parse_prefix_as_idd(prefix, digits) if prefix else (False, digits)
            if not stripped:
                number = verified(candidate, region, self.leniency)
            elif rest in after_prefix:
                number = after_prefix[rest]
            else:
                number = after_prefix[rest] = verified(candidate, region, self.leniency)
            if number is not None:
                numbers[region] = number
        return numbers

    def _each(self, candidate: str, regions) -> dict:
        numbers = {r: verified(candidate, r, self.leniency) for r in regions}
        return {r: n for r, n in numbers.items() if n is not None}


class _CandidateWalk(PhoneNumberMatcher):
    """The matcher's walk over a text when no candidate is a number: `candidates` are the strings
    it would have parsed, in order."""

    def __init__(self, text: str, leniency: int):
        super().__init__(text, None, leniency)
        self.candidates: list[str] = []
        for _ in self:  # nothing is ever found: this only walks
            pass

    def _parse_and_verify(self, candidate, offset):
        self.candidates.append(candidate)
        return None


class _RegionMatcher(PhoneNumberMatcher):
    """The matcher for one region, taking each candidate's number from `verdicts` instead of
    parsing it again."""

    def __init__(self, text: str, region: str, leniency: int, verdicts: _Verdicts):
        super().__init__(text, region, leniency)
        self._verdicts = verdicts

    def _parse_and_verify(self, candidate, offset):
        number = self._verdicts(candidate).get(self.preferred_region)
        if number is None or not self._stands_alone(candidate, offset):
            return None
        return PhoneNumberMatch(offset, candidate, number)

    def _stands_alone(self, candidate: str, offset: int) -> bool:
        """The checks `_parse_and_verify` makes before parsing: brackets that pair up, no page
        reference, and (at VALID and stricter) no Latin letter, percent sign or currency symbol
        touching the candidate unless it opens with a bracket or plus."""
        if not fullmatch(_MATCHING_BRACKETS, candidate) or _PUB_PAGES.search(candidate):
            return False
        if self.leniency < Leniency.VALID:
            return True
        neighbours = []
        if offset > 0 and not _LEAD_PATTERN.match(candidate):
            neighbours.append(self.text[offset - 1])
        if offset + len(candidate) < len(self.text):
            neighbours.append(self.text[offset + len(candidate)])
        return not any(self._is_invalid_punctuation_symbol(c) or self._is_latin_letter(c) for c in neighbours)


# A run holding one block of digits and no bracket or plus before it: the walk's only candidate is
# the block (no lead, extension, date, time stamp or inner-match split can be read from it).
_LONE_BLOCK = re.compile(rf"[^\d{_LEAD_CLASS_CHARS}]*(\d{{1,{_DIGIT_BLOCK_LIMIT}}})\D*")


class PhoneScanner:
    """Presidio's PHONE_NUMBER spans, as (start, end, score), computed on the windows that can hold
    them, for presidio's `PhoneRecognizer` with `regions`, `leniency` and `score` (its defaults)."""

    def __init__(self, regions: Sequence[str] = PHONE_REGIONS, leniency: int = PHONE_LENIENCY,
                 score: float = PHONE_SCORE, score_threshold: float = 0.0):
        self._regions = tuple(regions)
        self._leniency = leniency
        self._score = score
        self._threshold = score_threshold  # presidio's engine default: the recognizer sets none
        self._verdicts = _Verdicts(self._regions, self._leniency)
        self._runs = Runs(pattern_shape(_PATTERN.pattern, _PATTERN.flags).alphabet, _PATTERN.flags, re)
        self._long_chains = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}]{{0,4}}\d){{{self._verdicts.fewest_digits - 1}}}",
                                       _PATTERN.flags)
        self._window_cache = BoundedMemo()

    def windows(self, text: str) -> list[Window]:
        """The runs of phonenumbers' candidate alphabet that hold a chain of digits as long as the
        shortest number, each with the characters around it that the matcher reads."""
        return windows_with(text, self._long_chains, self._runs, MARGIN_BEFORE, MARGIN_AFTER)

    def find(self, text: str, windows: Optional[list[Window]] = None) -> list[tuple[int, int, float]]:
        """(start, end, score) of presidio's phone spans in `text` (whose `windows` may be given)."""
        found = []
        for begin, window, core_start, core_end in self.windows(text) if windows is None else windows:
            spans = self._window_cache.get(window)
            if spans is None:
                spans = self._window_cache.put(window, self._window_phones(window, core_start, core_end))
            found.extend((begin + s, begin + e, score) for s, e, score in spans)
        return found

    def _window_phones(self, window: str, core_start: int, core_end: int) -> tuple:
        """Presidio's phone spans inside window[core_start:core_end]: each region's matches, less
        repeats and those inside another match (presidio's de-duplication)."""
        if self._score < self._threshold:
            return ()
        lone = _LONE_BLOCK.fullmatch(window, core_start, core_end)
        candidates = [lone.group(1)] if lone else _CandidateWalk(window, self._leniency).candidates
        possible = {r for c in candidates for r in self._verdicts(c)}
        spans = [(m.start, m.end, self._score) for r in self._regions if r in possible
                 for m in _RegionMatcher(window, r, self._leniency, self._verdicts)]
        return tuple((s, e, score) for s, e, score in without_contained(spans) if core_start <= s and e <= core_end)
