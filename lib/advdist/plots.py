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



def learning_curves(df, title: str = ""):
    """Clean test accuracy (left) and accuracy on the training method's own adversarial samples (right) per epoch,
    one line per model, from ``advdist.experiments.learning_curves``; dotted lines mark the learning-rate drops."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    drops = set()
    for i, (m, d) in enumerate(df.groupby("model", sort=False)):
        ax1.plot(d["epoch"], d["test_acc"], color=f"C{i % 10}", marker="o", ms=2, label=m)
        if d["train_adv_acc"].notna().any():
            ax2.plot(d["epoch"], d["train_adv_acc"], color=f"C{i % 10}", marker="o", ms=2, label=m)
        lr = d["lr"].to_numpy()
        drops |= {int(e) for e, a, b in zip(d["epoch"].to_numpy()[1:], lr[:-1], lr[1:]) if b < a}
    for ax in (ax1, ax2):
        for e in sorted(drops):
            ax.axvline(e - 0.5, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("epoch")
    ax1.set_ylabel("clean test accuracy (%)")
    ax2.set_ylabel("training accuracy on own adversarial samples (%)")
    ax1.legend(fontsize=6, ncol=2)
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


def lambda_sweep(df, attacks, title: str = "", h_max: float | None = None):
    """ADT Fig. 5 from ``advdist.experiments.lambda_sweep``: accuracy under white-box attacks (left) and the average
    entropy per coordinate (right) against λ, one line style per entropy normalisation (``form``: solid = the
    per-coordinate mean, λ in the paper's units; dashed = Eq. 11 summed over the coordinates); λ on a symmetric-log
    axis so λ = 0 is shown. ``h_max``: the tanh-Gaussian's largest entropy per coordinate, drawn as a line."""
    from matplotlib.lines import Line2D

    forms = list(dict.fromkeys(df["form"])) if "form" in df else [None]
    styles = {"mean": "-", "sum": "--"}
    names = {"mean": "per-coordinate mean (default)", "sum": "summed (literal Eq. 11)"}
    cols = ["A_nat", *attacks, "A_rob"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for form in forms:
        d = df if form is None else df[df["form"] == form]
        ls = styles.get(form, "-")
        for i, col in enumerate(cols):
            ax.plot(d["lam"], d[col], color=f"C{i}", ls=ls, marker="o", ms=3)
        ax2.plot(d["lam"], d["entropy"], color="black", ls=ls, marker="s", ms=3)
    for a in (ax, ax2):
        a.set_xscale("symlog", linthresh=1e-3)
        a.set_xlabel("λ")
    ax.set_ylabel("accuracy (%)")
    ax2.set_ylabel("average entropy per coordinate (nats)")
    if h_max is not None:
        ax2.axhline(h_max, color="grey", lw=0.8, ls=":")
        ax2.annotate("tanh-Gaussian maximum", (0, h_max), textcoords="offset points", xytext=(2, -10), fontsize=7,
                     color="grey")
    handles = [Line2D([], [], color=f"C{i}", label=c) for i, c in enumerate(cols)]
    handles += [Line2D([], [], color="black", ls=styles.get(f, "-"), label=names.get(f, str(f)))
                for f in forms if f is not None]
    ax.legend(handles=handles, fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
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
