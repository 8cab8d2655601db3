"""Regenerate the notebooks from their sources and the stored smoke results that nbval's checks compare against.

    python tools/golden.py [--envs native,1thread,avx2,lowest] [--skip-measure | --combine-only] [notebooks/...py ...]

0. **Build**: each ``notebooks/<paper>/<nb>.ipynb`` from its jupytext source ``notebooks/<paper>/<nb>.py``
   (``tools/make_notebook.py``, also ``make notebooks``).

1. **Measure** (skipped with ``--skip-measure``): each notebook is executed by papermill at its defaults
   (``scale = "smoke"``) once per floating-point environment of :data:`ENVS`, each environment with its own fresh
   run store (so every smoke model is retrained there) and with ``ADVDIST_GOLDEN_RECORD`` set, so that the notebook's
   ``goldens.check`` cell records the numbers it saw under ``build/goldens/<env>/``. The two 1-thread environments
   run side by side.
2. **Combine**: ``tests/goldens/<paper>/<notebook>.json`` gets the ``native`` numbers, per-column spreads over the
   environments and the tolerances derived from them (:func:`advdist.goldens.tolerances`).
3. **Store the notebooks**: each notebook is rebuilt from its source, executed natively (models come from the run
   store) and stripped to what nbval compares: outputs are kept only in cells tagged ``nbval-check-output`` and in
   cells tagged ``keep-output`` (the smoke banner under the parameters; execution counts kept everywhere), timings
   and papermill metadata removed, the kernelspec set to the one ``make env`` installs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebook import KERNELSPEC, ROOT, item_of, notebook_of, sources, write  # noqa: E402

#: cells whose outputs the stored notebooks keep (nbval compares the first; the second is the smoke banner)
KEPT_OUTPUTS = ("nbval-check-output", "keep-output")
RECORDS = ROOT / "build" / "goldens"

#: floating-point environments the tolerances are measured over (environment variables of each)
ENVS: dict[str, dict[str, str]] = {
    "native": {},
    "1thread": {"OMP_NUM_THREADS": "1"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "lowest": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
               "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def measure(env: str, todo: list[Path], runs_root: Path) -> None:
    """Run every notebook of ``todo`` in environment ``env`` with a fresh run store, recording its checked numbers."""
    runs = runs_root / env
    runs.mkdir(parents=True, exist_ok=True)
    vars_ = {**os.environ, **ENVS[env], "ADVDIST_GOLDEN_RECORD": str(RECORDS / env), "TQDM_DISABLE": "1",
             "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if env != "native":
        vars_["ADVDIST_RUNS"] = str(runs)
    with tempfile.TemporaryDirectory() as tmp:
        for src in todo:
            print(f"golden [{env}]: {item_of(src)}", flush=True)
            subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(ROOT / "notebooks"),
                            "--no-progress-bar", str(notebook_of(src)), str(Path(tmp) / "out.ipynb")],
                           env=vars_, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def combine(src: Path, envs: list[str]) -> Path:
    from advdist import goldens

    item = item_of(src)
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


def store_notebook(src: Path) -> Path:
    out = write(src)
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
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and not set(cell.metadata.get("tags", [])) & set(KEPT_OUTPUTS):
            cell.outputs = []
    nbformat.write(nb, out)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    if "DIFFERS" in text or "BROKEN" in text or "NO STORED" in text:
        print(f"golden: WARNING: {out.relative_to(ROOT)}'s check does not pass:\n{text}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="*", type=Path, help="notebook sources (default: all)")
    p.add_argument("--envs", default=",".join(ENVS))
    p.add_argument("--skip-measure", action="store_true", help="combine the existing records and store notebooks")
    p.add_argument("--combine-only", action="store_true", help="only recompute tests/goldens/ from the records")
    p.add_argument("--store-only", action="store_true", help="only rebuild, execute and store the notebooks (the "
                   "goldens stay as they are: for changes that leave every checked number alone)")
    p.add_argument("--runs-root", type=Path, default=None, help="where the per-environment run stores go (default: a "
                   "temporary folder, removed at the end)")
    args = p.parse_args(argv)
    todo = [s.resolve() for s in args.sources] or sources()
    envs = [e for e in args.envs.split(",") if e]
    unknown = set(envs) - set(ENVS)
    if unknown:
        p.error(f"unknown environment(s) {sorted(unknown)}; valid: {', '.join(ENVS)}")
    checked = [s for s in todo if "goldens.check(" in s.read_text()]
    if not args.combine_only:
        for s in todo:
            write(s)
    if not (args.skip_measure or args.combine_only or args.store_only):
        with tempfile.TemporaryDirectory(dir=args.runs_root) as runs_root:
            one = [e for e in envs if ENVS[e].get("OMP_NUM_THREADS") == "1"]
            many = [e for e in envs if e not in one]
            # the 1-thread environments side by side (one core each), then the others one at a time
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda e: measure(e, checked, Path(runs_root)), one))
            for e in many:
                measure(e, checked, Path(runs_root))
    for s in [] if args.store_only else checked:
        print("golden:", combine(s, envs).relative_to(ROOT), flush=True)
    if args.combine_only:
        return 0
    for s in todo:
        print("golden:", store_notebook(s).relative_to(ROOT), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
