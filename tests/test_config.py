"""Configs, scales, validation errors and the stable hash."""

from __future__ import annotations

import pytest

from advdist import config
from advdist.config import ConfigError, TrainConfig, resolve


def test_paper_scale_uses_the_papers_settings():
    c = resolve("paper", "adt-cifar10", method="standard")
    # ADT App. C.3
    assert (c.dataset, c.model, c.batch_size, c.lr, c.epochs, c.milestones) == \
        ("cifar10", "wrn-28-10", 64, 0.1, 76, (75,))
    assert c.eps == pytest.approx(8 / 255) and c.weight_decay == 2e-4 and c.norm == "linf"
    assert resolve("paper", "adt-svhn").eps == pytest.approx(4 / 255)
    assert resolve("paper", "atent-mnist-linf").model == "smallcnn"
    assert resolve("paper", "atent-mnist-l2").norm == "l2" and resolve("paper", "atent-mnist-l2").eps == 2.0
    assert resolve("paper", "atent-cifar10-linf").model == "wrn-34-10"


def test_mini_and_smoke_substitute_the_dataset_and_say_so():
    m = resolve("mini", "adt-cifar10")
    s = resolve("smoke", "adt-cifar10")
    assert (m.dataset, m.model, m.scale, m.setting) == ("fashion_mnist", "mini-cnn", "mini", "adt-cifar10")
    assert (s.dataset, s.scale) == ("digits", "smoke")
    assert resolve("mini", "atent-mnist-l2").norm == "l2"


def test_overrides_apply_and_none_means_default():
    c = resolve("mini", epochs=7, model=None, n_test=0)
    assert c.epochs == 7 and c.model == "mini-cnn" and c.n_test is None


@pytest.mark.parametrize("kwargs, needle", [
    (dict(dataset="imagenet"), "unknown dataset 'imagenet'; valid: blobs, cifar10"),
    (dict(model="wrn28"), "unknown model 'wrn28'; valid:"),
    (dict(method="adtexp"), "unknown method 'adtexp'; valid:"),
    (dict(epochz=3), "unknown config key 'epochz'; valid:"),
    (dict(eps=8), "eps=8 exceeds the [0, 1] pixel range"),
    (dict(eps=-0.1), "eps must be a finite number >= 0"),
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(milestones=(3, 1)), "milestones must be increasing"),
])
def test_bad_values_are_one_line_errors_naming_them(kwargs, needle):
    with pytest.raises(ConfigError) as e:
        resolve("mini", **kwargs)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_unknown_scale_and_setting():
    with pytest.raises(ConfigError, match="unknown scale 'huge'; valid: mini, paper, smoke"):
        resolve("huge")
    with pytest.raises(ConfigError, match="unknown setting 'adt-imagenet'; valid: adt-cifar10"):
        resolve("mini", "adt-imagenet")


def test_hash_is_stable_canonical_and_ignores_provenance():
    a = resolve("mini", "adt-cifar10")
    b = TrainConfig.from_dict(dict(reversed(list(a.to_dict().items()))))
    assert a.hash() == b.hash() and len(a.hash()) == 12
    # provenance (which setting/scale produced the values) does not change what is trained
    assert a.hash() == a.replace(setting="atld-cifar10").hash()
    # every training-relevant field does
    for change in (dict(seed=1), dict(lr=0.01), dict(eps=0.2), dict(epochs=a.epochs + 1), dict(method_kwargs={"x": 1})):
        assert a.replace(**change).hash() != a.hash()
    assert a.hash(extra={"code": "x"}) != a.hash(extra={"code": "y"})
    # canonical JSON: key order and tuple/list do not matter
    assert config.canonical_json({"b": (1, 2), "a": 1}) == config.canonical_json({"a": 1, "b": [1, 2]})


def test_round_trip_through_dict():
    a = resolve("smoke", "atent-mnist-l2", seed=3)
    assert TrainConfig.from_dict(a.to_dict()) == a


class _Mod:  # stands in for a module object in a notebook namespace
    pass


def test_notebook_parameters_catch_misspelled_and_mistyped_parameters():
    import types

    ns = {"__annotations__": {"scale": str, "epochs": int, "lr": float}, "scale": "smoke", "epochs": 2,
          "lr": 1, "In": [], "Out": {}, "get_ipython": lambda: None, "advdist": types.ModuleType("advdist")}
    assert config.notebook_parameters(ns) == {"scale": "smoke", "epochs": 2, "lr": 1.0}
    with pytest.raises(ConfigError, match=r"unknown notebook parameter 'epochz'; valid: scale, epochs, lr"):
        config.notebook_parameters({**ns, "epochz": 3})
    with pytest.raises(ConfigError, match=r"'epochs' must be int, got '2'"):
        config.notebook_parameters({**ns, "epochs": "2"})
    with pytest.raises(ConfigError, match=r"'epochs' must be int, got True"):
        config.notebook_parameters({**ns, "epochs": True})
    with pytest.raises(ConfigError, match=r"unknown scale 'medium'"):
        config.notebook_parameters({**ns, "scale": "medium"})


def test_scale_method_options_merge_under_explicit_ones():
    smoke = resolve("smoke", method="adt_expam")
    assert smoke.method_kwargs["width"] == 8
    assert resolve("paper", method="adt_expam").method_kwargs == {}
    mine = resolve("smoke", method="adt_expam", method_kwargs={"width": 4, "lam": 0.0})
    assert mine.method_kwargs["width"] == 4 and mine.method_kwargs["lam"] == 0.0 and "lr_g" in mine.method_kwargs
    assert resolve("smoke", method="standard").method_kwargs == {}
