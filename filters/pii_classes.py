"""The character classes the PII stage spells out (`filters.regex_windows.explicit_class`), shipped as
filters/data/spelled_classes.json: a worker would otherwise scan every code point once for each,
about 50 ms a class and 0.4 CPU-s a worker. Rebuild it after a Python, `regex` or recognizer change:

    python -m tokenmill.filters.pii_classes
"""
from __future__ import annotations

import gc
import json
import re

import regex

from tokenmill.filters.pii import KNOWN_ENTITIES, PiiFilter
from tokenmill.filters.presidio_engine import NER_ENTITIES
from tokenmill.filters.regex_windows import ASKED, SPELLED_CLASSES, Runs, explicit_class, spell_class, unicode_versions

ENGINES = {"re": re, "regex": regex}


def classes_the_stage_asks() -> set[tuple[tuple[str, ...], int, str]]:
    """(alphabet, flags, engine's name) of every class the PII stage spells out, with every entity
    type that needs no spaCy model: its pre-scans' classes when it is set up, its windows' alphabets
    when it meets them."""
    ASKED.clear()
    explicit_class.cache_clear()  # a class asked for before is asked for again, and recorded
    stage = PiiFilter([e for e in KNOWN_ENTITIES if e not in NER_ENTITIES])
    stage.setup()
    for runs in [o for o in gc.get_objects() if type(o) is Runs]:
        explicit_class(runs.alphabet, runs.flags, runs.engine)
    return set(ASKED)


def spelled_table() -> dict:
    """The table as `regex_windows.shipped_classes` reads it, spelled out in this process."""
    classes = sorted(classes_the_stage_asks(), key=lambda key: (key[2], key[1], key[0]))
    return {"versions": unicode_versions(),
            "classes": [[engine, flags, list(alphabet), spell_class(alphabet, flags, ENGINES[engine])]
                        for alphabet, flags, engine in classes]}


if __name__ == "__main__":
    SPELLED_CLASSES.write_text(json.dumps(spelled_table(), ensure_ascii=True, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {SPELLED_CLASSES}")
