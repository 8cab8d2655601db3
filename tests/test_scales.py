"""Every per-scale number is defined once, in advdist.scales, and read from there (issue 16, item 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import advdist
from advdist import config, experiments, methods, scales
from advdist.attacks import settings as attack_settings

PACKAGE = Path(advdist.__file__).parent
#: the scale names that mark a per-scale table ("paper" alone is also a form/pull name elsewhere: not a marker)
MARKERS = {"smoke", "mini"}


def _scale_keyed_literals(tree: ast.AST) -> list[int]:
    """Line numbers of dict literals / ``dict(...)`` calls with a "smoke" or "mini" key."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            keys = {kw.arg for kw in node.keywords if kw.arg}
        else:
            continue
        if keys & MARKERS:
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_a_scale_table():
    """The scan below is not vacuous: it flags each form a per-scale table can take."""
    src = 'A = {"smoke": 1, "mini": 2, "paper": 3}\nB = dict(mini=4)\nC = {"mini": 5}\nD = {"paper": "sum"}\n'
    assert _scale_keyed_literals(ast.parse(src)) == [1, 2, 3]
    assert _scale_keyed_literals(ast.parse((PACKAGE / "scales.py").read_text()))


def test_no_per_scale_table_outside_scales_py():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "scales.py" and path.parent == PACKAGE:
            continue
        lines = _scale_keyed_literals(ast.parse(path.read_text(), filename=str(path)))
        if lines:
            found[str(path.relative_to(PACKAGE))] = lines
    assert not found, f"per-scale tables outside advdist/scales.py (move them there): {found}"


def test_old_names_are_the_scales_objects_not_copies():
    from advdist import atld_experiments, distribution_attacks
    from advdist.analysis import collect
    from advdist.experiments import adt, atent, atld

    aliases = [
        (config.SCALES, scales.SCALES), (config.SCALE_OVERRIDES, scales.SCALE_OVERRIDES),
        (config.METHOD_KWARGS, scales.METHOD_KWARGS), (config.EVAL_N, scales.EVAL_N),
        (attack_settings._MINI, scales.ATTACK_MINI), (attack_settings._SMOKE, scales.ATTACK_SMOKE),
        (attack_settings.Rel, scales.Rel),
        (distribution_attacks.EXP, scales.EXP_ATTACK), (distribution_attacks.GENERATOR, scales.GENERATOR_ATTACK),
        (distribution_attacks.CONVERGENCE, scales.EXP_CONVERGENCE), (distribution_attacks.TABLE4_N, scales.TABLE4_N),
        (adt.EXP, scales.EXP_ATTACK), (adt.GENERATOR, scales.GENERATOR_ATTACK),
        (adt.CONVERGENCE, scales.EXP_CONVERGENCE), (adt.TABLE4_N, scales.TABLE4_N), (adt.SIZES, scales.ANALYSIS_SIZES),
        (collect.SIZES, scales.ANALYSIS_SIZES), (atent.CERTIFY_BUDGET, scales.CERTIFY_BUDGET),
        (atld.FIT_ITERS, scales.TOY2D_FIT_ITERS), (atent.FIG1_STEPS, scales.TSNE_FIG1_STEPS),
        (atld.SEPARABILITY_FIT, scales.SEPARABILITY_FIT), (atld_experiments.SEPARABILITY_FIT, scales.SEPARABILITY_FIT),
    ]
    for old, new in aliases:
        assert old is new
    assert (attack_settings.MINI_EPS, attack_settings.MINI_EPS_L2) == (scales.MINI_EPS, scales.MINI_EPS_L2)
    for key, n_eval in scales.TABLE_N_EVAL.items():
        assert experiments.table(key).n_eval is n_eval


@pytest.mark.parametrize("name", ["SCALE_OVERRIDES", "METHOD_KWARGS", "EVAL_N", "EXP_ATTACK", "GENERATOR_ATTACK",
                                  "EXP_CONVERGENCE", "TABLE4_N", "ANALYSIS_SIZES", "CERTIFY_BUDGET",
                                  "TOY2D_FIT_ITERS", "TSNE_FIG1_STEPS", "SEPARABILITY_FIT"])
def test_each_table_covers_every_scale(name):
    assert set(getattr(scales, name)) == set(scales.SCALES)


def test_scale_changes_reach_config_and_the_attack_settings(monkeypatch):
    """The tables are read at call time from the one definition: a change there is a change everywhere."""
    monkeypatch.setitem(scales.SCALE_OVERRIDES["smoke"], "atent-mnist-l2", dict(eps=1.5, norm="l2"))
    assert config.resolve("smoke", "atent-mnist-l2").eps == 1.5
    monkeypatch.setitem(scales.TSNE_FIG1_STEPS, "smoke", 7)
    from advdist.experiments import atent
    assert atent.FIG1_STEPS["smoke"] == 7


def test_the_mini_mnist_budgets_are_the_papers():
    """ATENT Tables 1-2 at mini: the budgets restated in scales equal the paper settings and attack rows."""
    assert scales.MINI_MNIST_EPS == config.SETTINGS["atent-mnist-linf"]["eps"]
    assert scales.MINI_MNIST_EPS_L2 == config.SETTINGS["atent-mnist-l2"]["eps"]
    for name in ("L2-PGD-40", "CW-L2"):
        paper = attack_settings.get(name, scale="paper", paper="atent", dataset="mnist")
        mini = attack_settings.get(name, scale="mini", paper="atent", dataset="mnist")
        assert paper.eps == mini.eps == scales.MINI_MNIST_EPS_L2
    assert attack_settings.get("PGD-20", scale="mini", paper="atent", dataset="mnist").eps == scales.MINI_MNIST_EPS


@pytest.mark.parametrize("key,scale", [(k, s) for k in experiments.TABLES for s in scales.SCALES])
def test_every_table_attacks_at_its_training_budget(key, scale):
    """For every robustness table, scale and implemented row, each attack column in the training norm attacks at
    the training ε — from the attack settings alone, unless the table sets ``eps_from_config``; and a table sets
    it only where the settings' ε differs (ADT's SVHN: half the dataset's ε), so the flag is never a patch.
    Paper scale: TRADES' setting trains at 0.031 and ADT Table 5 attacks at 8/255 (0.0314): a 5e-4 tolerance."""
    spec = experiments.table(key)
    differs = False
    for row in spec.all_rows:
        if row.method not in methods.names():
            continue
        cfg = spec.config(row, scale)
        for name in spec.attacks:
            atk = attack_settings.get(name, scale=scale, paper=spec.paper, dataset=cfg.dataset)
            if atk.norm != cfg.norm:
                continue
            differs |= atk.eps != cfg.eps
            used = cfg.eps if spec.eps_from_config else atk.eps
            assert used == pytest.approx(cfg.eps, abs=5e-4 if scale == "paper" else 0), (row.label, name)
    if spec.eps_from_config:
        assert differs or scale == "paper", f"{key}: eps_from_config changes nothing at {scale}"


def test_eps_from_config_only_where_the_budget_differs():
    flagged = {k for k, t in experiments.TABLES.items() if t.eps_from_config}
    assert flagged == {"adt-table2-svhn"}
