"""The import graph of ``lib/advdist`` has no cycle, read with ``ast`` from the sources (nothing is imported).

Every ``import`` counts, at module level and inside functions, relative or absolute: an import hidden in a function
still ties the two modules together. Edges, for a module M of package P:

- ``import advdist.a.b`` / ``from advdist.a import b`` where ``b`` is a submodule → ``advdist.a.b``;
  ``from advdist.a import name`` (not a submodule) → ``advdist.a`` (its ``__init__``);
- importing ``advdist.a.b`` from outside package ``advdist.a`` also runs ``advdist/a/__init__.py`` → edge to
  ``advdist.a`` (a package's ``__init__`` is the node of the package, with the edges of what it re-exports);
- ``importlib.import_module("advdist.x")`` with a literal name → ``advdist.x`` (a module loaded by a string is
  still a dependency); ``import_module(f"{__name__}.{name}")`` in a package → every module of the package.

Also: no module imports a private name (``_x``) of another advdist module, and imports inside functions are kept
for optional or heavy third-party packages (:data:`LAZY_ALLOWED`) and for a package loading all its own modules
(``advdist.methods``: each registers its methods); any other import belongs at the top of the file.
Run ``python tests/test_import_graph.py`` to print the graph's cycles.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lib" / "advdist"

#: third-party packages a function may import lazily: optional extras, or heavy imports only some calls need
LAZY_ALLOWED = frozenset({
    "pyautoattack",   # AutoAttack (optional extra)
    "foolbox",        # cross-check of attacks in bench (optional)
    "submitit",       # Slurm launcher (optional extra)
    "robustbench",    # pretrained models (optional)
    "sklearn",        # t-SNE, digits/moons data, probe classifiers (heavy)
    "scipy",          # .mat files, 1-D optimisation (heavy)
    "matplotlib",     # plotting helpers only
    "pandas",         # tables only
    "numpy",          # only where the module otherwise stays numpy-free
    "torch",          # advdist.data imports without torch (``python -m advdist.data list`` stays fast)
    "torchvision",    # dataset downloads only
    "tqdm",           # progress bars only
})

#: imports inside functions that stay, as (file, imported module); this list only shrinks.
#: - config.validate checks a config's names against the registries of data, methods and models, which import
#:   config themselves (and torch): config stays importable without torch and below them.
LAZY_PENDING = frozenset({
    ("config.py", "advdist"),
})

#: ``module._name`` reads of another module's private name that stay, as (file, "module._name"):
#: - the data package's command line and provisioning use the registry's internals, which the data tests
#:   replace (``monkeypatch.setattr(registry, "_download_with_torchvision", ...)``) to simulate sources.
PRIVATE_PENDING = frozenset({
    ("data/__main__.py", "registry._describe"), ("data/provision.py", "registry._describe"),
    ("data/provision.py", "registry._download_with_torchvision"), ("data/provision.py", "registry._one_line"),
    ("data/provision.py", "registry._try_package"),
})


def module_name(path: Path, root: Path = PKG) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass
class Import:
    """One import statement's target as seen from ``src``."""

    src: str
    module: str            # the module named after ``from`` / ``import`` (absolute)
    names: tuple[str, ...]  # the names of ``from M import a, b`` (empty for ``import M``)
    lineno: int
    in_function: bool


@dataclass
class Graph:
    root: Path
    modules: dict[str, Path]
    edges: dict[str, set[str]] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def is_package(self, mod: str) -> bool:
        return self.modules.get(mod, Path()).name == "__init__.py"


def _absolute(src: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = src.split(".") if is_pkg else src.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _literal_module(arg: ast.expr, src: str, is_pkg: bool) -> str | None:
    """The module a dynamic import names: a literal string, or ``f"{__name__}.{...}"`` in a package (every
    submodule of the package: ``"<package>.*"``)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if (is_pkg and isinstance(arg, ast.JoinedStr) and len(arg.values) >= 2
            and ast.unparse(arg.values[0]) == "{__name__}" and isinstance(arg.values[1], ast.Constant)
            and str(arg.values[1].value).startswith(".")):
        return f"{src}.*"
    return None


def _imports(tree: ast.AST, src: str, is_pkg: bool) -> list[Import]:
    out: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            fn = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend(Import(src, a.name, (), child.lineno, fn) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                out.append(Import(src, _absolute(src, is_pkg, child), tuple(a.name for a in child.names),
                                  child.lineno, fn))
            elif (isinstance(child, ast.Call) and child.args
                  and ast.unparse(child.func) in ("importlib.import_module", "import_module", "__import__")):
                name = _literal_module(child.args[0], src, is_pkg)
                if name:
                    out.append(Import(src, name, (), child.lineno, fn))
            visit(child, fn)

    visit(tree, False)
    return out


def build_graph(root: Path = PKG) -> Graph:
    """The import graph of the package at ``root`` (edges between its own modules only)."""
    g = Graph(root, {module_name(p, root): p for p in sorted(root.rglob("*.py"))})
    top = root.name
    for mod, path in g.modules.items():
        g.edges[mod] = set()
        for imp in _imports(ast.parse(path.read_text(), str(path)), mod, g.is_package(mod)):
            g.imports.append(imp)
            if imp.module != top and not imp.module.startswith(top + "."):
                continue
            targets = [f"{imp.module}.{n}" for n in imp.names if f"{imp.module}.{n}" in g.modules]
            if imp.module.endswith(".*"):  # every submodule of a package, imported by a computed name
                base = imp.module[:-2]
                targets = [m for m in g.modules if m.rsplit(".", 1)[0] == base and m != base]
            elif not targets or len(targets) < len(imp.names):
                targets.append(imp.module)  # names defined in (or re-exported by) the module itself
            for t in targets:
                parts = t.split(".")
                for i in range(1, len(parts) + 1):  # t and the packages above it that the import runs
                    anc = ".".join(parts[:i])
                    if anc == t or not (mod == anc or mod.startswith(anc + ".")):
                        if anc in g.modules and anc != mod:
                            g.edges[mod].add(anc)
    return g


def tangles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted: the modules of each
    component all import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sorted(comps)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle (``[a, b, ..., a]``) through the first module of each of the :func:`tangles`."""
    return [_cycle_in(comp, edges) for comp in tangles(edges)]


def _cycle_in(comp: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component (breadth-first)."""
    start, inside = comp[0], set(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & inside):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in component {comp}")  # cannot happen for a strongly connected component


def describe(cycles: list[list[str]]) -> str:
    return "; ".join(" -> ".join(c) for c in cycles)


def private_imports(g: Graph) -> list[str]:
    """``from advdist.x import _name`` of a private name of another module (``file:line: ...``)."""
    bad = []
    for imp in g.imports:
        if imp.module in g.modules and imp.module != imp.src:
            for n in imp.names:
                if n.startswith("_") and not n.startswith("__") and f"{imp.module}.{n}" not in g.modules:
                    bad.append(f"{g.modules[imp.src].relative_to(g.root).as_posix()}:{imp.lineno}: "
                               f"from {imp.module} import {n}")
    return bad


def private_attributes(root: Path = PKG) -> list[tuple[str, str, int]]:
    """``(file, "mod._name", line)`` where ``mod`` is bound to another module of the package (``from advdist import
    evaluate``, ``from . import registry``, ``import advdist.evaluate as ev``)."""
    g = build_graph(root)
    bad = []
    for mod, path in g.modules.items():
        tree = ast.parse(path.read_text())
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _absolute(mod, g.is_package(mod), node)
                aliases |= {a.asname or a.name for a in node.names if f"{base}.{a.name}" in g.modules}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.asname and a.name in g.modules}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append((path.relative_to(root).as_posix(), f"{node.value.id}.{node.attr}", node.lineno))
    return bad


# ----------------------------------------------------------------------------------------------------------------
def test_advdist_has_no_import_cycle():
    g = build_graph()
    assert len(g.modules) > 50 and "advdist.runtime" in g.modules
    assert "advdist.train" in g.edges["advdist.store"] or "advdist.store" in g.edges["advdist.train"]
    comps = tangles(g.edges)
    assert not comps, "import cycles: " + "; ".join(
        f"{' -> '.join(c)} (one of {len(m)} modules in a cycle: {', '.join(m)})"
        for c, m in zip(find_cycles(g.edges), comps))


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / "pkg" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "pkg"


def test_detector_finds_a_cycle_hidden_in_a_function_relative_or_through_a_package_init(tmp_path):
    pkg = _write(tmp_path, {
        "__init__.py": "",
        "low.py": "import os\n\ndef f():\n    from pkg.high import g  # hidden in a function\n    return g\n",
        "high.py": "from . import low\n\ndef g():\n    return low\n",
        "sub/__init__.py": "from .leaf import h\n",                      # a package re-exporting its leaf
        "sub/leaf.py": "def h():\n    import pkg.top\n",
        "top.py": "from pkg.sub.leaf import h\n",                          # runs sub/__init__ too
        "loose.py": "import importlib\nimportlib.import_module('pkg.loose2')\n",
        "loose2.py": "from pkg import loose\n",
        "fine.py": "from pkg import low, high\n",
        "plug/__init__.py": ("import importlib\nimport pkgutil\nREG = {}\n"
                             "for i in pkgutil.iter_modules(__path__):\n"
                             "    importlib.import_module(f\"{__name__}.{i.name}\")\n"),
        "plug/one.py": "from pkg.plug import REG\n",                     # registers itself with its package
        "plug/two.py": "X = 2\n",
    })
    g = build_graph(pkg)
    assert g.edges["pkg.low"] == {"pkg.high"} and g.edges["pkg.high"] == {"pkg.low"}
    assert g.edges["pkg.top"] == {"pkg.sub", "pkg.sub.leaf"} and g.edges["pkg.sub"] == {"pkg.sub.leaf"}
    assert g.edges["pkg.fine"] == {"pkg.low", "pkg.high"}                # submodules named in ``from pkg import``
    assert g.edges["pkg.plug"] == {"pkg.plug.one", "pkg.plug.two"}      # every submodule, by a computed name
    cycles = find_cycles(g.edges)
    assert cycles == [["pkg.high", "pkg.low", "pkg.high"], ["pkg.loose", "pkg.loose2", "pkg.loose"],
                      ["pkg.plug", "pkg.plug.one", "pkg.plug"],
                      ["pkg.sub", "pkg.sub.leaf", "pkg.top", "pkg.sub"]], cycles
    assert "pkg.high -> pkg.low -> pkg.high" in describe(cycles)
    # breaking the hidden import breaks that cycle and leaves the others
    (pkg / "low.py").write_text("import os\n")
    assert [c[0] for c in find_cycles(build_graph(pkg).edges)] == ["pkg.loose", "pkg.plug", "pkg.sub"]


def test_no_module_imports_a_private_name_of_another():
    assert private_imports(build_graph()) == []
    found = private_attributes()
    bad = [f"{f}:{line}: {name}" for f, name, line in found if (f, name) not in PRIVATE_PENDING]
    assert not bad, f"private names of other modules (make them public): {'; '.join(bad)}"
    stale = PRIVATE_PENDING - {(f, name) for f, name, _ in found}
    assert not stale, f"remove from PRIVATE_PENDING: {sorted(stale)}"


def test_private_name_detector_works(tmp_path):
    pkg = _write(tmp_path, {"__init__.py": "", "a.py": "_x = 1\ny = 2\n",
                            "b.py": "from pkg.a import _x, y\nfrom . import a as m\nprint(m._x, m.y)\n"})
    g = build_graph(pkg)
    assert [b.split(": ")[1] for b in private_imports(g)] == ["from pkg.a import _x"]
    assert [(f, name) for f, name, _ in private_attributes(pkg)] == [("b.py", "m._x")]


def _lazy_imports() -> list[tuple[str, str, int]]:
    g = build_graph()
    return [(g.modules[i.src].relative_to(PKG).as_posix(), i.module, i.lineno) for i in g.imports
            if i.in_function]


def test_imports_inside_functions_are_for_optional_or_heavy_packages_only():
    bad = [f"{f}:{line}: {m}" for f, m, line in _lazy_imports()  # a package loading all its plug-ins (".*")
           if m.split(".")[0] not in LAZY_ALLOWED and (f, m) not in LAZY_PENDING and not m.endswith(".*")]
    assert not bad, ("imports inside functions that belong at the top of the file (allowed lazily: "
                     f"{', '.join(sorted(LAZY_ALLOWED))}): {'; '.join(bad)}")
    # the pending list only shrinks: an entry that no longer occurs is removed from it
    stale = LAZY_PENDING - {(f, m) for f, m, _ in _lazy_imports()}
    assert not stale, f"remove from LAZY_PENDING: {sorted(stale)}"


@pytest.mark.parametrize("bad", ["from advdist import store", "from advdist.data import load", "import json"])
def test_lazy_import_check_flags_an_advdist_or_stdlib_import_in_a_function(bad):
    tree = ast.parse(f"def f():\n    {bad}\n")
    (imp,) = _imports(tree, "advdist.x", False)
    assert imp.in_function and imp.module.split(".")[0] not in LAZY_ALLOWED


if __name__ == "__main__":
    graph = build_graph()
    print(describe(find_cycles(graph.edges)) or "no cycle")
