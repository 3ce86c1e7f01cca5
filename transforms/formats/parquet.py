"""Parquet files with a text column (`options.text_column`, default `text`), read a row group at a time."""
from __future__ import annotations

from typing import Iterator

import pyarrow.parquet as pq

from tokenmill.filters.document import Document, Failed, derived_id
from tokenmill.transforms.formats.common import READ_STAGE, STREAM_ERRORS, content_error, ReadOptions, open_raw, reject_at_read


def read_parquet(path: str, source: str, options: ReadOptions) -> Iterator:
    text_column = options.extra.get("text_column", "text")
    id_column = options.extra.get("id_column", "id")
    url_column = options.extra.get("url_column", "url")
    row = 0
    try:
        with open_raw(path) as stream:
            parquet = pq.ParquetFile(stream)
            names = set(parquet.schema_arrow.names)
            if text_column not in names:
                yield Failed(source, READ_STAGE, "missing_text", path, f"no column {text_column!r} (columns: "
                             f"{', '.join(sorted(names))})")
                return
            columns = [c for c in (text_column, id_column, url_column) if c in names]
            for group in range(parquet.num_row_groups):
                batch = parquet.read_row_group(group, columns=columns).to_pydict()
                for i, text in enumerate(batch[text_column]):
                    doc_id = batch[id_column][i] if id_column in batch and batch[id_column][i] is not None else None
                    doc_id = str(doc_id) if doc_id is not None else derived_id(path, row)
                    url = batch[url_column][i] if url_column in batch else None
                    meta = {"path": path, "row": row}
                    row += 1
                    if not isinstance(text, str):
                        yield reject_at_read(Document(doc_id, source, "", meta=meta), "empty")
                    elif len(text.encode("utf-8")) > options.max_document_bytes:
                        yield reject_at_read(Document(doc_id, source, "", url, meta=meta), "too_large")
                    else:
                        yield Document(doc_id, source, text, str(url) if url else None, meta=meta)
    except STREAM_ERRORS as err:
        yield Failed(source, READ_STAGE, "unreadable", f"{path}#row{row}", str(content_error(err))[:500])
