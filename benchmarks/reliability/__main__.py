"""Print the reliability report: ``python -m benchmarks.reliability [--full] [--only 1,2] [--json]``.

Without ``--full`` every scenario runs in its shortened CI size (the soak streams
1 million items instead of 10 million, the load test lasts 10 s instead of 60 s).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback

from benchmarks.reliability import Result, load_all


def _format_figures(figures: dict[str, object]) -> str:
    return "; ".join(f"{key} {value}" for key, value in figures.items())


def table(results: list[Result]) -> str:
    """The report as a Markdown table (pasted into the README's Reliability section)."""
    lines = ["| # | Scenario | Figures | Target | Met |", "|---|---|---|---|---|"]
    for r in results:
        met = "yes" if r.passed else "**no**"
        figures = _format_figures(r.figures).replace("|", "/")
        if r.covered_by:
            figures += f" (test: `{r.covered_by}`)"
        lines.append(f"| {r.number} | {r.title} | {figures} | {r.target} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the issue's sizes (10M items, 60 s load)")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 1,2,14")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario instead of a table")
    args = parser.parse_args(argv)
    # A registry of our own: the figures must not count (or touch) anyone else's clusters.
    os.environ["CLUSTERKIT_REGISTRY_DIR"] = tempfile.mkdtemp(prefix="clusterkit-reliability-")
    scenarios = load_all()
    chosen = sorted(scenarios) if not args.only else [int(n) for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in scenarios]
    if unknown:
        parser.error(f"no scenario {unknown}; there are {sorted(scenarios)}")
    results = []
    started = time.monotonic()
    for number in chosen:
        title, fn = scenarios[number]
        print(f"# scenario {number}: {title} ...", file=sys.stderr, flush=True)
        try:
            result = fn(args.full)
        except Exception as exc:
            traceback.print_exc()
            result = Result(number, title, {"crashed": f"{type(exc).__name__}: {exc}"[:200]}, "runs", False)
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
    if not args.json:
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        size = "--full" if args.full else "CI sizes"
        print(f"Reliability report, {when}, {size}, Python {platform.python_version()}, "
              f"{time.monotonic() - started:.0f} s\n")
        print(table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
