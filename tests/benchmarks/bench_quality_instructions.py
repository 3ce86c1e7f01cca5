"""Quality rules: CPU instructions per page (valgrind's cachegrind), the web chain now and at an
earlier commit, on the same pages.

    python tests/benchmarks/bench_quality_instructions.py --before ac491f5 [--pages web-bulk|warc] [--count 300]

Each side runs in fresh processes under cachegrind (`cachegrind.py`), once over the pages and once
without that loop (imports, set-up and a warm-up on 20 pages are in both); the difference over the
number of pages is the chain's instructions per page.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_quality import PAGES  # noqa: E402
from cachegrind import instructions  # noqa: E402

WARM_UP = 20


def child(which: str, pages_file: str, measure: bool) -> None:
    """Build the web chain (today's, or the rules at commit `which`) and run it over the pages."""
    from bench_quality import ours, rules_at

    texts = json.loads(Path(pages_file).read_text())
    if which == "now":
        import tokenmill.filters.quality as module
    else:
        module = rules_at(which, Path(tempfile.mkdtemp()))
    chain = [module.Sanity(), module.GopherRepetition(), module.GopherQuality(), module.C4(), module.FineWeb()]
    ours(texts[:WARM_UP], chain, module.QualityFilter)
    if measure:
        ours(texts, chain, module.QualityFilter)


def chain_instructions(which: str, pages_file: str, measure: bool) -> int:
    command = [sys.executable, __file__, "--child", which, "--pages-file", pages_file]
    return instructions(command + ([] if measure else ["--skip"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="A commit whose rules are counted beside today's.")
    parser.add_argument("--pages", choices=sorted(PAGES), default="web-bulk")
    parser.add_argument("--count", type=int, default=300, help="Pages to run (the first ones).")
    parser.add_argument("--child")
    parser.add_argument("--pages-file")
    parser.add_argument("--skip", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.pages_file, measure=not args.skip)
        return
    texts = PAGES[args.pages]()[:args.count]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as pages_file:
        json.dump(texts, pages_file)
        pages_file.flush()
        print(f"\n{len(texts)} {args.pages} pages, {sum(map(len, texts)) / len(texts):,.0f} characters on average; "
              "instructions per page of the web chain (sanity, Gopher, C4, FineWeb)\n")
        rows = {}
        for which in ([args.before] if args.before else []) + ["now"]:
            spent = chain_instructions(which, pages_file.name, True) - chain_instructions(which, pages_file.name, False)
            rows[which] = spent / len(texts)
            print(f"{which:>12}  {rows[which]:>14,.0f}")
        if args.before:
            print(f"\nnow / {args.before}: {rows['now'] / rows[args.before]:.3f}")


if __name__ == "__main__":
    main()
