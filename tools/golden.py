"""Regenerate notebooks/ from notebooks/specs/ and the stored smoke results that nbval's checks compare against.

    python tools/golden.py [--envs native,1thread,avx2,lowest] [--skip-measure | --combine-only] [notebooks/specs/...py ...]

1. **Measure** (skipped with ``--skip-measure``): each notebook is executed by papermill at its defaults
   (``scale = "smoke"``) once per floating-point environment of :data:`ENVS`, each environment with its own fresh
   run store (so every smoke model is retrained there) and with ``ADVDIST_GOLDEN_RECORD`` set, so that the notebook's
   ``goldens.check`` cell records the numbers it saw under ``build/goldens/<env>/``. The two 1-thread environments
   run side by side.
2. **Combine**: ``tests/goldens/<paper>/<notebook>.json`` gets the ``native`` numbers, per-column spreads over the
   environments and the tolerances derived from them (:func:`advdist.goldens.tolerances`).
3. **Store the notebooks**: each notebook is rebuilt from its spec, executed natively (models come from the run
   store) and stripped to what nbval compares: outputs are kept only in cells tagged ``nbval-check-output``
   (execution counts kept everywhere), timings and papermill metadata removed.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebook import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "notebooks" / "specs"
RECORDS = ROOT / "build" / "goldens"

#: floating-point environments the tolerances are measured over (environment variables of each)
ENVS: dict[str, dict[str, str]] = {
    "native": {},
    "1thread": {"OMP_NUM_THREADS": "1"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "lowest": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
               "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def item_of(spec: Path) -> str:
    return spec.relative_to(SPECS).with_suffix("").as_posix()


def notebook_of(spec: Path) -> Path:
    return ROOT / "notebooks" / spec.relative_to(SPECS).with_suffix(".ipynb")


def write_notebook(spec: Path) -> Path:
    out = notebook_of(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(runpy.run_path(str(spec))["CELLS"]), out)
    return out


def measure(env: str, specs: list[Path], runs_root: Path) -> None:
    """Run every notebook of ``specs`` in environment ``env`` with a fresh run store, recording its checked numbers."""
    runs = runs_root / env
    runs.mkdir(parents=True, exist_ok=True)
    vars_ = {**os.environ, **ENVS[env], "ADVDIST_GOLDEN_RECORD": str(RECORDS / env), "TQDM_DISABLE": "1",
             "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if env != "native":
        vars_["ADVDIST_RUNS"] = str(runs)
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            print(f"golden [{env}]: {item_of(spec)}", flush=True)
            subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(ROOT / "notebooks"),
                            "--no-progress-bar", str(notebook_of(spec)), str(Path(tmp) / "out.ipynb")],
                           env=vars_, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def combine(spec: Path, envs: list[str]) -> Path:
    from advdist import goldens

    item = item_of(spec)
    seen = {e: json.loads((RECORDS / e / f"{item}.json").read_text()) for e in envs
            if (RECORDS / e / f"{item}.json").exists()}
    if "native" not in seen:
        raise SystemExit(f"golden: no native record of {item}; does its last cell call goldens.check?")
    ref = seen["native"]
    for e, rec in seen.items():
        if rec["structure"] != ref["structure"]:
            raise SystemExit(f"golden: {item}: the structure of the results differs between native and {e}")
    tol, spread = goldens.tolerances({e: r["values"] for e, r in seen.items()}, "native", ref["structure"],
                                     ref["integer"])
    out = goldens.golden_path(item)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "item": item, "environments": {e: ENVS[e] for e in seen}, "structure": ref["structure"],
        "values": ref["values"], "spread": spread, "tolerance": tol,
        "rule": f"tol = max({goldens.SAFETY} * spread, {goldens.REL_FLOOR} * max|value|, {goldens.ABS_FLOOR}) per "
                "column; integer columns exact",
    }, indent=1, sort_keys=True, allow_nan=True) + "\n")
    return out


def store_notebook(spec: Path) -> Path:
    out = write_notebook(spec)
    env_backup = os.environ.pop("ADVDIST_GOLDEN_RECORD", None)
    try:
        papermill.execute_notebook(str(out), str(out), kernel_name="python3", cwd=str(ROOT / "notebooks"),
                                   progress_bar=False)
    finally:
        if env_backup is not None:
            os.environ["ADVDIST_GOLDEN_RECORD"] = env_backup
    nb = nbformat.read(out, as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and "nbval-check-output" not in cell.metadata.get("tags", []):
            cell.outputs = []
    nbformat.write(nb, out)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    if "DIFFERS" in text or "BROKEN" in text or "NO STORED" in text:
        print(f"golden: WARNING: {out.relative_to(ROOT)}'s check does not pass:\n{text}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("specs", nargs="*", type=Path)
    p.add_argument("--envs", default=",".join(ENVS))
    p.add_argument("--skip-measure", action="store_true", help="combine the existing records and store notebooks")
    p.add_argument("--combine-only", action="store_true", help="only recompute tests/goldens/ from the records")
    p.add_argument("--runs-root", type=Path, default=None, help="where the per-environment run stores go (default: a "
                   "temporary folder, removed at the end)")
    args = p.parse_args(argv)
    specs = [s.resolve() for s in args.specs] or sorted(SPECS.rglob("*.py"))
    envs = [e for e in args.envs.split(",") if e]
    unknown = set(envs) - set(ENVS)
    if unknown:
        p.error(f"unknown environment(s) {sorted(unknown)}; valid: {', '.join(ENVS)}")
    checked = [s for s in specs if any("goldens.check" in c[1] for c in runpy.run_path(str(s))["CELLS"])]
    if not args.combine_only:
        for s in specs:
            write_notebook(s)
    if not (args.skip_measure or args.combine_only):
        with tempfile.TemporaryDirectory(dir=args.runs_root) as runs_root:
            one = [e for e in envs if ENVS[e].get("OMP_NUM_THREADS") == "1"]
            many = [e for e in envs if e not in one]
            # the 1-thread environments side by side (one core each), then the others one at a time
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda e: measure(e, checked, Path(runs_root)), one))
            for e in many:
                measure(e, checked, Path(runs_root))
    for s in checked:
        print("golden:", combine(s, envs).relative_to(ROOT), flush=True)
    if args.combine_only:
        return 0
    for s in specs:
        print("golden:", store_notebook(s).relative_to(ROOT), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
