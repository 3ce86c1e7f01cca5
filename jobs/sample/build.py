"""Rebuild the bundled sample (maintainers only; the built files are committed).

The sample is real text that ships with every Python: the standard library's documentation,
rendered by `pydoc` as HTML pages (the web source, in a WARC file like a crawler's) and as plain
docstrings (the docs source, JSON Lines). A few pages are copies, near-copies or written in other
languages, so that every stage has something to do. Run with the Python the sample should be
built from: ``python -m jobs.sample.build``.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import io
import json
import pydoc
import re
import sysconfig
from pathlib import Path

HERE = Path(__file__).parent
WEB_MODULES = [
    "abc", "argparse", "base64", "bisect", "calendar", "collections", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "enum", "fractions", "functools", "getopt", "glob", "gzip", "hashlib", "heapq",
    "hmac", "html", "http.client", "imaplib", "inspect", "ipaddress", "itertools", "json", "logging", "mailbox",
    "math", "mimetypes", "numbers", "operator", "optparse", "pathlib", "pickle", "pprint", "queue", "random", "re",
    "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket", "sqlite3", "statistics",
    "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "trace",
    "typing", "unittest", "urllib.parse", "uuid", "warnings", "weakref", "xml.dom", "zipfile", "zlib",
]
DOCS_MODULES = [
    "asyncio", "codecs", "concurrent.futures", "configparser", "email", "fnmatch", "ftplib", "gettext", "graphlib",
    "io", "locale", "multiprocessing", "os", "platform", "plistlib", "poplib", "quopri", "reprlib", "signal", "site",
    "socketserver", "ssl", "stat", "symtable", "sys", "sysconfig", "tabnanny", "telnetlib", "tomllib", "turtle",
    "types", "unicodedata", "wave", "webbrowser", "xmlrpc.client", "zipapp", "zoneinfo", "bz2", "lzma", "cmd",
]
# Written for this sample: short pages in other languages, which the default language filter removes.
OTHER_LANGUAGES = {
    "de": "Die Standardbibliothek von Python enthält Module für fast jede alltägliche Aufgabe: das Lesen und "
          "Schreiben von Dateien, reguläre Ausdrücke, Datum und Uhrzeit, Netzwerkprotokolle und vieles mehr. "
          "Wer ein neues Programm beginnt, sollte zuerst nachsehen, ob die Bibliothek die Aufgabe schon löst.",
    "fr": "La bibliothèque standard de Python fournit des modules pour presque toutes les tâches courantes : "
          "lire et écrire des fichiers, manipuler des dates, parler aux serveurs du réseau ou compresser des "
          "données. Avant d'écrire une nouvelle fonction, il vaut mieux chercher si elle existe déjà.",
    "es": "La biblioteca estándar de Python incluye módulos para casi cualquier tarea cotidiana: leer y escribir "
          "archivos, trabajar con fechas, comunicarse con servidores de red o comprimir datos. Antes de escribir "
          "una función nueva, conviene buscar si la biblioteca ya la ofrece.",
}


def module_html(name: str) -> str:
    module = importlib.import_module(name)
    html = pydoc.HTMLDoc().page(pydoc.describe(module), pydoc.HTMLDoc().document(module, name))
    html = html.replace(sysconfig.get_paths()["stdlib"], "Lib")
    return re.sub(r"(&nbsp;| )at(&nbsp;| )0x[0-9a-f]+", "", html)  # object addresses change from run to run


def module_text(name: str) -> str:
    """The module's docstring and those of its public functions and classes, as an article."""
    module = importlib.import_module(name)
    parts = [f"{name}\n\n{inspect.getdoc(module) or ''}"]
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        doc = inspect.getdoc(value)
        if doc and (inspect.isfunction(value) or inspect.isclass(value)):
            parts.append(f"{attr}\n\n{doc}")
    return "\n\n".join(parts)


def warc_record(url: str, html: str | bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    """One gzip member holding a WARC response record of `html` (bytes are stored as they are, under
    `content_type`, so a page's own charset declaration decides)."""
    body = html.encode("utf-8") if isinstance(html, str) else html
    http = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    record_id = hashlib.sha1(url.encode()).hexdigest()
    uuid = f"{record_id[:8]}-{record_id[8:12]}-{record_id[12:16]}-{record_id[16:20]}-{record_id[20:32]}"
    headers = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2024-05-18T00:00:00Z\r\n"
               f"WARC-Record-ID: <urn:uuid:{uuid}>\r\nWARC-Target-URI: {url}\r\n"
               f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n")
    return gzip.compress(headers.encode() + http + b"\r\n\r\n", compresslevel=9, mtime=0)


def build() -> None:
    pages = [(f"https://docs.example.org/library/{m}.html", module_html(m)) for m in WEB_MODULES]
    pages.append(("https://mirror.example.net/python/queue.html", module_html("queue")))  # an exact copy
    pages += [(f"https://docs.example.org/{lang}/intro.html",
               f"<html><head><title>Python</title></head><body><p>{text}</p></body></html>")
              for lang, text in OTHER_LANGUAGES.items()]
    with open(HERE / "web.warc.gz", "wb") as out:
        for url, html in pages:
            out.write(warc_record(url, html))
    buffer = io.BytesIO()
    for name in DOCS_MODULES:
        record = {"id": f"stdlib-{name}", "url": f"https://docs.example.org/api/{name}", "text": module_text(name)}
        buffer.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    (HERE / "docs.jsonl.gz").write_bytes(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))


def sample_config_path() -> str:
    return str(HERE / "sample.yaml")


if __name__ == "__main__":
    build()
