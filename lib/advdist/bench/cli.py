"""``python -m advdist.bench``: run the selected entries, print the table, write the JSON report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from advdist import paths

# the entries register themselves in core.ENTRIES when imported, in this order (= advdist.bench.FAMILIES)
from advdist.bench import adt_exp, cascade, feaattack, hessian, pgd, throughput  # noqa: F401, I001
from advdist.bench.core import ENTRIES, Context, build_context, machine_info, select, write_json

#: the command line's one-line description (the package docstring's first line)
DESCRIPTION = ("``make bench``: timed comparisons of the attack engine against a baseline run in the same "
               "process.")


def table(results: list[dict]) -> str:
    rows = [("entry", "baseline_s", "ours_s", "ratio", "agree")]
    for r in results:
        rows.append((r["name"], f"{r['baseline_s']:.3f}", f"{r['ours_s']:.3f}", f"{r['ratio']:.2f}x", r["agree"]))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w[i]) if i < 4 else c for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "-" * min(160, max(len(line) for line in lines)))
    return "\n".join(lines)


def main(argv: list[str] | None = None, context: Context | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m advdist.bench", description=DESCRIPTION)
    p.add_argument("--only", action="append", metavar="SUBSTRING",
                   help="run only the entries whose name contains SUBSTRING (repeatable)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (for the tests); the numbers mean nothing")
    p.add_argument("--out", default=None, help="JSON output (default: figures/bench/bench.json)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per variant (default 3; --quick 2)")
    p.add_argument("--cascade-n", type=int, default=None, help="images for cascade_vs_pgd20 (default 1000)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    names = select(args.only)
    if not names:
        p.error(f"--only {args.only} matches no entry; entries: {', '.join(ENTRIES)}")
    ctx = context or build_context(args.quick, args.repeats, args.cascade_n)
    if context is not None:
        ctx.quick = ctx.quick or args.quick
        ctx.repeats = args.repeats or (2 if ctx.quick else ctx.repeats)
        ctx.cascade_n = args.cascade_n or ctx.cascade_n
    out = Path(args.out) if args.out else paths.FIGURES / "bench" / "bench.json"
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        results = []
        for name in names:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            r = {"name": name, **ENTRIES[name](ctx)}
            r["wall_s"] = round(time.perf_counter() - t0, 2)
            results.append(r)
            print(f"[bench] {name}: ratio {r['ratio']:.2f}x ({r['wall_s']:.0f} s)", file=sys.stderr, flush=True)
        report = {"meta": {**machine_info(), "quick": ctx.quick, "repeats": ctx.repeats,
                           "argv": list(argv if argv is not None else sys.argv[1:])},
                  "entries": results}
    finally:
        torch.set_num_threads(threads)
    print(table(results))
    write_json(out, report)
    print(f"wrote {out}")
    return report
