"""Figures of network dissection (report section and dashboard): concept levels per layer,
each concept's best units on their top images, and the task comparison with intervals.
Each returns a matplotlib Figure (Agg, no pyplot) or None without data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.dissection import LEVELS

LEVEL_COLOURS = {"part": "#1b9e77", "local": "#7570b3", "global": "#d95f02", "none": "0.8"}
LEVEL_NAMES = {"part": "part", "local": "local attribute", "global": "global", "none": "none"}
MAX_MODELS = 8
PER_LEVEL = 4  # concepts shown per level (part, local attribute, global)


def concept_levels(levels: pd.DataFrame | None) -> Figure | None:
    """Per model, stacked bars of the share of units per level, for each layer of the
    trained network beside the same layer of its random-weights copy."""
    if levels is None or levels.empty:
        return None
    models = list(dict.fromkeys(levels["model"]))[:MAX_MODELS]
    fig = Figure(figsize=(3.2 * len(models) + 1.5, 3.4))
    axes = np.atleast_1d(fig.subplots(1, len(models), sharey=True, squeeze=False)[0])
    for ax, model in zip(axes, models, strict=True):
        shares = levels[levels["model"] == model].pivot_table(
            index=["layer", "network"], columns="level", values="share", sort=False
        )
        bottom = np.zeros(len(shares))
        labels = [f"{layer}\n{'random' if net != 'trained' else ''}" for layer, net in shares.index]
        for level in LEVELS:
            values = shares.get(level, pd.Series(0.0, index=shares.index)).to_numpy()
            bars = ax.bar(
                range(len(shares)),
                values,
                bottom=bottom,
                color=LEVEL_COLOURS[level],
                label=LEVEL_NAMES[level],
            )
            for bar, (_, network) in zip(bars, shares.index, strict=True):
                bar.set_hatch("" if network == "trained" else "///")
            bottom += values
        ax.set_xticks(range(len(shares)), labels, fontsize=6, rotation=45, ha="right")
        ax.set_title(_short(model), fontsize=8)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("share of units")
    axes[-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def unit_examples(arrays: dict | None, layer: str, title: str = "") -> Figure | None:
    """One row per example unit, the `PER_LEVEL` best-scoring (concept, unit) rows of each
    level: the unit's top-activating images with its thresholded activation outlined."""
    prefix = f"examples/{layer}"
    if arrays is None or f"{prefix}/masks" not in arrays:
        return None
    scores = np.asarray(arrays[f"{prefix}/scores"], dtype=float)
    levels = np.asarray(arrays[f"{prefix}/levels"]).astype(str)
    order = np.argsort(-scores, kind="stable")  # IoU and AUC differ in scale: rank per level
    shown = [i for level in LEVELS[:3] for i in order[levels[order] == level][:PER_LEVEL]]
    if not shown:
        return None
    rows = arrays[f"{prefix}/images"]
    masks = arrays[f"{prefix}/masks"]
    pixel_row = {int(r): k for k, r in enumerate(arrays["examples/rows"])}
    n_images = rows.shape[1]
    fig = Figure(figsize=(1.3 * n_images + 1.6, 1.3 * len(shown) + 0.4))
    axes = fig.subplots(len(shown), n_images, squeeze=False)
    for line, index in enumerate(shown):
        concept = str(arrays[f"{prefix}/concepts"][index])
        unit = int(arrays[f"{prefix}/units"][index])
        for column in range(n_images):
            ax = axes[line, column]
            ax.imshow(arrays["examples/pixels"][pixel_row[int(rows[index, column])]])
            if masks[index, column].any():
                ax.contour(
                    masks[index, column].astype(float),
                    levels=[0.5],
                    colors="#ffea00",
                    linewidths=1.0,
                )
            ax.set_xticks([])
            ax.set_yticks([])
        score = "AUC" if levels[index] == "global" else "IoU"
        axes[line, 0].set_ylabel(
            f"{concept}\nunit {unit}, {score} {scores[index]:.2f}",
            fontsize=6,
            rotation=0,
            ha="right",
            va="center",
        )
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


def task_comparison(comparison: pd.DataFrame | None) -> Figure | None:
    """Per model pair and layer: the difference (second - first) in the share of units of
    each level with its bootstrap interval."""
    if comparison is None or comparison.empty:
        return None
    rows = comparison[comparison["concept"] == "*"]
    groups = list(rows.groupby(["first", "second", "layer"], sort=False))
    fig = Figure(figsize=(3.0 * len(groups) + 0.5, 2.8))
    axes = np.atleast_1d(fig.subplots(1, len(groups), sharey=True, squeeze=False)[0])
    for ax, ((first, second, layer), table) in zip(axes, groups, strict=True):
        table = table.set_index("level").reindex(list(LEVELS))
        y = np.arange(len(LEVELS))
        ax.errorbar(
            table["difference"],
            y,
            xerr=[table["difference"] - table["low"], table["high"] - table["difference"]],
            fmt="o",
            color="0.2",
            capsize=3,
        )
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_yticks(y, [LEVEL_NAMES[level] for level in LEVELS], fontsize=7)
        ax.set_title(f"{_short(second)}\nminus {_short(first)}\n{layer}", fontsize=6)
        ax.set_xlabel("difference in share of units", fontsize=7)
    fig.tight_layout()
    return fig


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
