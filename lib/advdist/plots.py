"""Plot helpers shared by the notebooks, and deterministic figure saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def savefig(fig, path: str | Path) -> list[Path]:
    """Save ``fig`` as PNG and PDF next to each other with no timestamps (byte-stable outputs)."""
    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(out[1], bbox_inches="tight", metadata={"Creator": None, "Producer": None, "CreationDate": None})
    return out


def training_curves(log, title: str = ""):
    """Loss and accuracy per epoch from a run's ``log.csv`` (``advdist.store.Run.log``)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(log["epoch"], log["train_loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss")
    for col in [c for c in log.columns if c.endswith("_acc")]:
        ax2.plot(log["epoch"], log[col], marker="o", label=col.replace("_", " "))
    ax2.set(xlabel="epoch", ylabel="accuracy")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

