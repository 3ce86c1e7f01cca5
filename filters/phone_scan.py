"""Presidio's phone recognizer, asked only where and for the regions where a number can be.

Presidio's `PhoneRecognizer` runs python-phonenumbers' matcher once per region (eight by default)
over the whole text: most of presidio's time. `PhoneScanner.find(text)` returns the same spans
(offsets and scores):

- only on windows that can hold a number: maximal runs of characters that phonenumbers' own
  candidate pattern can contain, holding a chain of digits (joined by the matcher's punctuation)
  at least as long as the shortest valid number, plus the one character before and the three
  after that the matcher looks at. No candidate crosses a character outside that alphabet, so
  each window yields the candidates, and verdicts, that the whole text does;
- only for the regions where one of the window's digit strings is a VALID number (phonenumbers'
  own parse and check), after a necessary condition compiled from the region's metadata rules out
  nearly all of them without parsing (`RegionRule`);
- with window results cached per worker.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from filters.memo import BoundedMemo
from filters.regex_windows import Runs, pattern_shape, runs_with

# The matcher reads the character before a candidate and up to three after it (time-stamp suffix ":mm").
MARGIN_BEFORE, MARGIN_AFTER = 1, 3
_DIGIT_GROUPS = re.compile(r"\d+")
_PLUS_OR_X = re.compile("[+\uff0bxX]")  # a plus makes a number international; letters may be read as digits
_MAX_DIGIT_BLOCK = 20  # longer digit runs are cut by the matcher's pattern, not at punctuation
# phonenumbers refuses national numbers over 17 digits; a country code (3 at most) and an
# international prefix add fewer than 10: no longer digit string is a valid number.
_MAX_NUMBER_DIGITS = 30


def _shortest_national_number(metadata) -> int:
    return min(metadata.general_desc.possible_length)


@lru_cache(maxsize=1)
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


def _number_types(metadata) -> tuple:
    """The descriptions a valid number must match one of (phonenumbers' number-type check)."""
    return (metadata.premium_rate, metadata.toll_free, metadata.mobile, metadata.fixed_line, metadata.shared_cost,
            metadata.voip, metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail)


def _any_of(patterns) -> str:
    return "|".join(f"(?:{p})" for p in dict.fromkeys(p for p in patterns if p))


class RegionRule:
    """A necessary condition for a digit string, dialled in `region` without a plus, to be a number
    phonenumbers' matcher reports at presidio's leniency (VALID), read from the region's metadata
    and compiled into one expression (`pattern`).

    Parsing (`phonenumbers.parse`) keeps the digits as the national number, strips the national
    prefix (`national_prefix_for_parsing`, or rewrites it by `national_prefix_transform_rule`), or
    strips the region's calling code; digits after an international prefix are someone else's
    number. A valid national number matches a number-type pattern of a region sharing the calling
    code, and a number kept whole, with no national prefix, passes VALID only when the format
    phonenumbers picks for it does not want the prefix written (or no format fits)."""

    def __init__(self, region: str):
        import phonenumbers
        from phonenumbers import PhoneMetadata

        metadata = PhoneMetadata.metadata_for_region(region)
        code = metadata.country_code
        main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(code))
        sharing = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]]
        national = _any_of(d.national_number_pattern for m in sharing for d in _number_types(m) if d is not None)
        prefix = _any_of([metadata.national_prefix_for_parsing, main.national_prefix_for_parsing])
        strip = f"(?:{prefix})?" if prefix else ""
        branches = [f"{code}{strip}{strip}(?:{national})"]
        if metadata.international_prefix:
            branches.append(f"(?:{metadata.international_prefix})\\d*")
        if prefix:
            branches.append(f"(?:{prefix})(?:{national})")  # the prefix stripped
            branches.append(f"(?=(?:{prefix}))(?:{national})")  # kept, but there to be seen
        if metadata.national_prefix_transform_rule or main.national_prefix_transform_rule:
            branches.append(f"(?:{prefix})\\d*")  # a rewritten prefix: leave it to the parser
        fits = [f"(?={f.leading_digits_pattern[-1] if f.leading_digits_pattern else ''})(?:{f.pattern})$"
                for f in main.number_format]
        without_prefix = [f"(?={fit})" for fit, f in zip(fits, main.number_format) if not _prefix_required(f)]
        no_format = f"(?!{_any_of(fits)})" if fits else ""
        branches.append(f"(?:{_any_of(without_prefix + [no_format])})(?:{national})")
        self.pattern = _any_of(branches)
        self._rule = re.compile(self.pattern)

    def may_be_valid(self, digits: str) -> bool:
        """False only if `digits` (ASCII) cannot be a VALID number dialled in the region."""
        return self._rule.fullmatch(digits) is not None


def _prefix_required(number_format) -> bool:
    from phonenumbers.phonenumbermatcher import _formatting_rule_has_first_group_only

    rule = number_format.national_prefix_formatting_rule
    return bool(rule) and not number_format.national_prefix_optional_when_formatting \
        and not _formatting_rule_has_first_group_only(rule)


class PhoneScanner:
    """Presidio's PHONE_NUMBER spans, as (start, end, score), computed on the windows that can hold them."""

    def __init__(self, score_threshold: float = 0.0):
        from phonenumbers.phonenumbermatcher import _PATTERN
        from phonenumbers.phonenumberutil import _VALID_PUNCTUATION
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        self._regions = [(r, min_phone_digits(r), RegionRule(r)) for r in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS]
        self._fewest_digits = min(digits for _, digits, _ in self._regions)
        self._runs = Runs(pattern_shape(_PATTERN.pattern, _PATTERN.flags).alphabet, _PATTERN.flags, re)
        self._chains = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}]{{0,4}}\d)*", _PATTERN.flags)
        self._long_chains = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}]{{0,4}}\d){{{self._fewest_digits - 1}}}", _PATTERN.flags)
        self._any_region = re.compile(_any_of(rule.pattern for _, _, rule in self._regions))
        self._threshold = score_threshold  # presidio's engine default: the recognizer sets none
        self._recognizers: dict[tuple, object] = {}
        self._valid_regions = BoundedMemo()
        self._window_cache = BoundedMemo()

    def find(self, text: str) -> list[tuple[int, int, float]]:
        found = []
        for start, end in runs_with(text, self._long_chains, self._runs):
            begin = max(start - MARGIN_BEFORE, 0)
            window = text[begin:end + MARGIN_AFTER]
            spans = self._window_cache.get(window)
            if spans is None:
                spans = self._window_cache.put(window, self._window_phones(window, start - begin, end - begin))
            found.extend((begin + s, begin + e, score) for s, e, score in spans)
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
        plain = not _PLUS_OR_X.search(window, core_start, core_end) and all(
            len(g) <= _MAX_DIGIT_BLOCK for groups in chains for g in groups)
        if plain:
            valid = {r for groups in chains for number in _group_runs(groups, self._fewest_digits)
                     for r in self._regions_where_valid(number)}
            names = tuple(r for r, _, _ in self._regions if r in valid)
        else:
            names = tuple(r for r, fewest, _ in self._regions if fewest <= longest)
        if not names:
            return ()
        recognizer = self._recognizers.get(names)
        if recognizer is None:
            from presidio_analyzer.predefined_recognizers import PhoneRecognizer

            recognizer = self._recognizers[names] = PhoneRecognizer(supported_regions=names)
        return tuple((r.start, r.end, r.score) for r in recognizer.analyze(window, ["PHONE_NUMBER"], None)
                     if core_start <= r.start and r.end <= core_end and r.score >= self._threshold)

    def _regions_where_valid(self, digits: str) -> tuple:
        """The regions whose matcher accepts `digits` as a number at presidio's leniency (VALID: a
        valid number, with its national prefix where the region's format requires one); memoised.
        `digits` has no "x", so the leniency's x-character rule holds trivially."""
        regions = self._valid_regions.get(digits)
        if regions is None:
            ascii_digits = digits if digits.isascii() else "".join(str(unicodedata.digit(c)) for c in digits)
            regions = ()
            if self._any_region.fullmatch(ascii_digits):
                regions = tuple(r for r, fewest, rule in self._regions if fewest <= len(digits)
                                and rule.may_be_valid(ascii_digits) and _parses_valid(digits, r))
            self._valid_regions.put(digits, regions)
        return regions


def _parses_valid(digits: str, region: str) -> bool:
    import phonenumbers
    from phonenumbers.phonenumbermatcher import _verify

    try:
        number = phonenumbers.parse(digits, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return False
    return bool(_verify(phonenumbers.Leniency.VALID, number, digits, None))


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
