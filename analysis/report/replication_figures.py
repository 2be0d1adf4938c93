"""Figures of the "Replication of Crawford et al. (2020)" section (plain matplotlib Figures;
None when their data are absent, as in `analysis.report.figures`)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from analysis.report.figures import _subplots

DESIGN_ORDER = ("pretraining", "task", "seed")
MAX_CONSENSUS_IMAGES = 4


def design_order(models: list[str], info: pd.DataFrame | None) -> list[str]:
    """Models sorted by pretraining, then task, then seed (the attributes `info` has)."""
    if info is None:
        return models
    keys = [c for c in DESIGN_ORDER if c in info.columns]
    meta = info.drop_duplicates("model").set_index("model").reindex(models)
    return list(meta.sort_values(keys, kind="stable").index) if keys else models


def _block_edges(values: list) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal consecutive values."""
    edges, start = [], 0
    for k in range(1, len(values) + 1):
        if k == len(values) or values[k] != values[start]:
            edges.append((start, k))
            start = k
    return edges


def ordered_generalisation(cells: pd.DataFrame | None, info: pd.DataFrame | None) -> Figure | None:
    """G[A, B] (AUC) among the models in pretraining -> task -> seed order, with outlines
    around the pretraining blocks (thick) and the task blocks within them (thin)."""
    if cells is None or cells.empty:
        return None
    models = list(dict.fromkeys(cells["model_b"]))
    cells = cells[cells["model_a"].isin(models)]
    order = design_order(models, info)
    matrix = cells.pivot(index="model_a", columns="model_b", values="auc").loc[order, order]
    fig, ax = _subplots(figsize=(6.5, 5.6))
    image = ax.imshow(matrix.to_numpy(float), cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(order)), order, rotation=90, fontsize=6)
    ax.set_yticks(range(len(order)), order, fontsize=6)
    ax.set_xlabel("B (tested model)")
    ax.set_ylabel("A (relevance source)")
    ax.set_title("G[A, B] (AUC over k), ordered pretraining > task > seed", fontsize=9)
    if info is not None:
        meta = info.drop_duplicates("model").set_index("model").loc[order]
        levels = [c for c in ("pretraining", "task") if c in meta.columns]
        for depth, _ in enumerate(levels):
            labels = list(zip(*(meta[c].astype(str) for c in levels[: depth + 1]), strict=True))
            for start, stop in _block_edges(labels):
                size = stop - start
                ax.add_patch(
                    Rectangle(
                        (start - 0.5, start - 0.5),
                        size,
                        size,
                        fill=False,
                        edgecolor="white" if depth == 0 else "0.8",
                        linewidth=2.5 if depth == 0 else 1.0,
                    )
                )
    fig.tight_layout()
    return fig


def factor_contrasts(levels: pd.DataFrame | None, relations: pd.DataFrame | None) -> Figure | None:
    """Mean transfer per relation (self, only seed, only task, ...) and the map agreement
    (Spearman, top-k IoU) per relation, each with its 95% interval."""
    panels = [
        (levels, "transfer", "Relevance transfer (AUC gain over random, sign-adjusted)")
        if levels is not None and not levels.empty
        else None,
        (relations, "spearman", "Relevance-map Spearman between models")
        if relations is not None and not relations.empty
        else None,
        (relations, "top_iou", "Top-k IoU between models")
        if relations is not None and not relations.empty
        else None,
    ]
    panels = [p for p in panels if p is not None]
    if not panels:
        return None
    fig, axes = _subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (table, column, title) in zip(axes[0], panels, strict=True):
        low = table[f"{column}_ci_low" if column != "transfer" else "ci_low"].to_numpy(float)
        high = table[f"{column}_ci_high" if column != "transfer" else "ci_high"].to_numpy(float)
        value = table[column].to_numpy(float)
        x = np.arange(len(table))
        ax.errorbar(x, value, yerr=[value - low, high - value], fmt="o", capsize=4)
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.set_xticks(x, table["relation"], rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def consensus_maps(
    consensus: Mapping[str, np.ndarray] | None, images: np.ndarray | None
) -> Figure | None:
    """Per consensus (row): the share of images in which each pixel is in it, then the first
    images with the consensus pixels in red."""
    if not consensus:
        return None
    n_images = 0 if images is None else min(MAX_CONSENSUS_IMAGES, len(images))
    rows, cols = len(consensus), 1 + n_images
    fig, axes = _subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False)
    red = matplotlib.colormaps["Reds"].with_extremes(under=(0, 0, 0, 0))
    for row, (name, mask) in zip(axes, consensus.items(), strict=True):
        image = row[0].imshow(mask.mean(axis=0), cmap="magma", vmin=0)
        fig.colorbar(image, ax=row[0], fraction=0.046, pad=0.04)
        row[0].set_title(f"{name}: share of images", fontsize=7)
        for k in range(n_images):
            img = np.asarray(images[k], float)
            img = (img - img.min()) / max(float(np.ptp(img)), 1e-12)
            row[1 + k].imshow(img, cmap="gray" if img.ndim == 2 else None)
            row[1 + k].imshow(mask[k].astype(float), cmap=red, vmin=0.5, vmax=1, alpha=0.7)
            row[1 + k].set_title(f"image {k + 1}", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
