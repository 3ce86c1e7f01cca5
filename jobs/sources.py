"""Documents of a `NAME=FORMAT:GLOB` source outside a pipeline, read as `tokenmill curate` reads them.

`tokenmill classifier` trains on such sources and `tokenmill eval` measures on them. Records a
reader could not use (a corrupt gzip member, a line that is not JSON, a file too large, an empty
text) are not documents: each is counted under its ledger key (`read/corrupt_gzip`, `read/empty`)
in the caller's tally and the total is said on stderr, so nothing is lost without a word.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterator, Optional

import click

from tokenmill.filters.document import Document
from tokenmill.pipeline.config import parse_source_flag
from tokenmill.pipeline.curate import expand_pattern, glob_root
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.formats import READERS, ReadOptions
from tokenmill.transforms.read import ShardReader


def source_files(flag: str) -> tuple[str, str, list[str]]:
    """(name, format, files) of a `NAME=FORMAT:GLOB` flag; a ConfigError when the format is unknown or
    the glob matches nothing."""
    name, source = parse_source_flag(flag)
    if source.format not in READERS:
        raise ConfigError(f"{flag}: unknown format {source.format!r} (expected one of: {', '.join(sorted(READERS))})")
    files = expand_pattern(source.paths[0])
    if not files:
        raise ConfigError(f"{flag}: {source.paths[0]!r} matches no file")
    return name, source.format, files


def read_documents(flag: str, tally: Optional[Counter] = None) -> Iterator[Document]:
    """The documents of a `NAME=FORMAT:GLOB` source with some text, in file order; what was not used
    is counted in `tally` (by ledger key, an empty text as `read/empty`) and said on stderr."""
    name, fmt, files = source_files(flag)
    _, source = parse_source_flag(flag)
    reader = ShardReader({name: ReadOptions(extra={"roots": [glob_root(source.paths[0])]})})
    unused: Counter = Counter()
    for path in files:
        for result in reader.items(name, fmt, path):
            if not isinstance(result, Document):
                unused[result.key] += 1
            elif result.text.strip():
                yield result
            else:
                unused["read/empty"] += 1
    if unused:
        click.echo(f"{flag}: {sum(unused.values()):,} records unreadable, empty or removed at read time, not used "
                   f"({', '.join(f'{key} {n:,}' for key, n in sorted(unused.items()))})", err=True)
    if tally is not None:
        tally.update(unused)
