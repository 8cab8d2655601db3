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



def transfer_heatmaps(df, title: str = ""):
    """ADT Fig. 4: one source × target heatmap of accuracy (%) per attack, from
    ``advdist.experiments.transfer_matrix``."""
    import numpy as np

    attacks = list(dict.fromkeys(df["attack"]))
    order = list(dict.fromkeys(df["source"]))
    fig, axes = plt.subplots(1, len(attacks), figsize=(4.2 * len(attacks) + 0.6, 3.8), squeeze=False)
    for ax, name in zip(axes[0], attacks):
        m = df[df.attack == name].pivot(index="source", columns="target", values="acc").loc[order, order]
        im = ax.imshow(m.to_numpy(), cmap="viridis", vmin=0, vmax=max(1.0, float(np.nanmax(df["acc"]))))
        ax.set(xticks=range(len(order)), yticks=range(len(order)), xlabel="target model", ylabel="source model",
               title=name)
        ax.set_xticklabels(order, rotation=60, ha="right", fontsize=7)
        ax.set_yticklabels(order, fontsize=7)
        for i in range(len(order)):
            for j in range(len(order)):
                ax.text(j, i, f"{m.iat[i, j]:.1f}", ha="center", va="center", fontsize=6,
                        color="white" if m.iat[i, j] < 50 else "black")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="accuracy (%)")
    if title:
        fig.suptitle(title)
    return fig


def lambda_sweep(df, attacks, title: str = ""):
    """ADT Fig. 5: accuracy under white-box attacks (left axis) and average entropy (right axis) against λ,
    from ``advdist.experiments.lambda_sweep``; λ on a symmetric-log axis so λ = 0 is shown."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for col in ["A_nat", *attacks, "A_rob"]:
        ax.plot(df["lam"], df[col], marker="o", label=col)
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set(xlabel="λ", ylabel="accuracy (%)")
    ax2 = ax.twinx()
    ax2.plot(df["lam"], df["entropy"], color="black", ls="--", marker="s", label="entropy")
    ax2.set_ylabel("average entropy per coordinate")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def bars(df, x: str, y: str, ylabel: str, title: str = ""):
    """A bar chart of ``df[y]`` per ``df[x]`` with values on the bars (ADT Fig. 7: training time per epoch)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.bar(df[x].astype(str), df[y], color="tab:blue")
    for i, v in enumerate(df[y]):
        ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set(ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
