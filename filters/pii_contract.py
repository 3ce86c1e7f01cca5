"""The private parts of its dependencies that the PII fast path reads or transcribes, in one place,
with the versions they were checked on.

The scanner (`filters.pii_scan`, `filters.phone_scan`, `filters.regex_windows`) and the scrub
(`filters.pii.PiiFilter.scrub`) return presidio's spans and presidio-anonymizer's text about ten
times faster than presidio does, and without importing it, by reading parts that carry no promise
(phonenumbers' matcher internals: `_verify`, `_build_national_number_for_parsing`, its candidate
pattern...; CPython's regular-expression parser, `re._parser` and `re._constants`; presidio's
`iban_patterns.py`) and by running transcriptions of presidio-analyzer's recognizers and pattern
loop (`filters.pii_recognizers`) and of presidio-anonymizer's conflict resolution
(`filters.pii_overlaps`). Any release may change them without notice.

So the fast path runs only where every installed version is one it was checked on (`VERIFIED`) and
every private name is still there; anywhere else the stage warns once and calls presidio's public
API instead (`AnalyzerEngine.analyze` per document, `AnonymizerEngine.anonymize`): the same spans
and text, slower. Checking needs no presidio import (it costs seconds: `filters.pii_recognizers`):
versions come from the installed packages' metadata. `tests/test_pii_contract.py` fails on a
version not in `VERIFIED`: a bump reruns the equivalence tests (tests/test_pii.py,
tests/test_pii_contract.py, which compare every transcription with presidio) and adds the version here.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# Versions the scanner's equivalence tests passed on.
VERIFIED = {
    "python": ("3.11", "3.13"),
    "phonenumbers": ("9.0.43",),
    "presidio-analyzer": ("2.2.366",),
    "presidio-anonymizer": ("2.2.366",),
}

# module -> the private (or unpromised) names of it the fast path reads.
PRIVATE_NAMES = {
    "re": ("_parser", "_constants"),
    "phonenumbers.phonenumbermatcher": (
        "_DIGIT_BLOCK_LIMIT", "_LEAD_CLASS_CHARS", "_LEAD_PATTERN", "_MATCHING_BRACKETS", "_PATTERN", "_PUB_PAGES",
        "_formatting_rule_has_first_group_only", "_verify"),
    "phonenumbers.phonenumberutil": (
        "_PLUS_CHARS_PATTERN", "_VALID_PUNCTUATION", "_build_national_number_for_parsing", "_is_viable_phone_number",
        "_maybe_strip_extension", "_normalize", "_parse_prefix_as_idd"),
}
# Files of a package read without importing it: presidio's IBAN formats (constants only).
PRIVATE_FILES = {"presidio_analyzer": ("predefined_recognizers/generic/iban_patterns.py",)}
# Methods of classes that the fast path calls or overrides.
PRIVATE_METHODS = {
    ("phonenumbers", "PhoneNumberMatcher"): ("_parse_and_verify", "_is_invalid_punctuation_symbol", "_is_latin_letter"),
}


def installed_versions() -> dict[str, str]:
    versions = {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    for package in VERIFIED:
        if package != "python":
            versions[package] = metadata.version(package)
    return versions


def unverified() -> list[str]:
    """Why the fast path cannot run here (empty when it can)."""
    problems = [f"{package} {version} (checked: {', '.join(VERIFIED[package])})"
                for package, version in installed_versions().items() if version not in VERIFIED[package]]
    for module_name, names in PRIVATE_NAMES.items():
        module = importlib.import_module(module_name)
        problems += [f"{module_name}.{name} is gone" for name in names if not hasattr(module, name)]
    for (module_name, class_name), names in PRIVATE_METHODS.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        problems += [f"{class_name}.{name} is gone" for name in names if not callable(getattr(cls, name, None))]
    for package, paths in PRIVATE_FILES.items():
        root = Path(importlib.util.find_spec(package).submodule_search_locations[0])  # found, not imported
        problems += [f"{package}/{path} is gone" for path in paths if not (root / path).is_file()]
    return problems


@lru_cache(maxsize=1)
def fast_path_available() -> bool:
    """Whether the fast path may run; warns once (naming why) when it may not."""
    problems = unverified()
    if problems:
        warnings.warn("PII stage: presidio's public API is used instead of the fast path, which reads private "
                      f"parts checked on other versions: {'; '.join(problems)}", RuntimeWarning, stacklevel=2)
    return not problems
