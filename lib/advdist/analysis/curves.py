"""Per-epoch accuracy curves from a run's ``log.csv`` (ATENT Fig. 3: benign/robust × train/test of ℓ∞-ATENT)."""

from __future__ import annotations

import pandas as pd

#: log.csv column -> curve label (robust test needs a run trained with ``early_stop="pgd-10"``)
CURVES = {"train_acc": "benign train", "train_adv_acc": "robust train", "test_acc": "benign test",
          "test_rob_acc": "robust test (PGD-10)"}


def accuracy_curves(log: pd.DataFrame) -> pd.DataFrame:
    """Epoch, lr and the accuracy columns of :data:`CURVES` present in ``log``, in % (ATENT Fig. 3)."""
    cols = [c for c in CURVES if c in log.columns]
    out = log[["epoch", "lr"]].copy()
    for c in cols:
        out[CURVES[c]] = 100.0 * log[c]
    return out


def plot_accuracy_curves(curves: pd.DataFrame, *, milestones=(), title: str = ""):
    """One line per curve against the epoch, the lr decays as dotted vertical lines; returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in curves.columns[2:]:
        ax.plot(curves["epoch"], curves[c], marker="o", label=c)
    for m in milestones:
        ax.axvline(m - 0.5, color="gray", ls=":", lw=1)  # lr decays from epoch m on (advdist.train.lr_at)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
