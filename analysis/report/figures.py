"""Report figures.  Each function returns a matplotlib Figure, or None when its data are
absent, so the report shows exactly the analyses that were run.

Figures are plain ``matplotlib.figure.Figure`` objects rendered by the Agg canvas on save:
pyplot (and its global figure registry and backend choice) is never touched, so the report
can be built in a notebook, a web worker or several threads without side effects.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.matrices import SimilarityMatrix
from analysis.report.layout import classical_mds, filled
from analysis.report.summary import model_label

MAX_LABELS = 60
MAX_MODEL_PANELS = 12


def _subplots(*args, figsize, **kwargs):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _heatmap(ax, values: np.ndarray, title: str, labels=None) -> None:
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    if labels is not None and len(labels) <= MAX_LABELS:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=5)
        ax.set_yticks(range(len(labels)), labels, fontsize=5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def human_heatmap(human: SimilarityMatrix, order: np.ndarray) -> Figure:
    """The human dissimilarity matrix ordered by clustering; grey = missing pair."""
    fig, ax = _subplots(figsize=(6.5, 5.5))
    d = human.dissimilarity().values[np.ix_(order, order)]
    labels = [human.stimuli[i] for i in order]
    _heatmap(ax, d, f"Human dissimilarity ({human.n_missing_pairs} missing pairs in grey)", labels)
    fig.tight_layout()
    return fig


def model_heatmaps(models: dict[str, SimilarityMatrix], order: np.ndarray) -> Figure | None:
    """Model dissimilarity matrices in the human clustering order (first 12 models)."""
    if not models:
        return None
    names = list(models)[:MAX_MODEL_PANELS]
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = _subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        _heatmap(ax, models[name].values[np.ix_(order, order)], name)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def mds_map(human: SimilarityMatrix) -> Figure:
    """Classical MDS of the human dissimilarities (missing pairs filled with the mean)."""
    coords = classical_mds(human)
    _, n_filled = filled(human)
    fig, ax = _subplots(figsize=(6, 5.5))
    ax.scatter(coords[:, 0], coords[:, 1], s=18, color="tab:blue")
    if human.n_stimuli <= MAX_LABELS:
        for (x, y), label in zip(coords, human.stimuli, strict=True):
            ax.annotate(label, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    note = f" ({n_filled} missing pairs filled with the mean)" if n_filled else ""
    ax.set_title(f"Classical MDS of human dissimilarities{note}", fontsize=9)
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return fig


def model_correlations(table: pd.DataFrame, method: str) -> Figure | None:
    """Bars: model-human evaluation with dual-bootstrap CIs; grey band: noise ceiling; *: FDR
    corrected Mantel p < 0.05."""
    if table is None or table.empty:
        return None
    sub = table[table["method"] == method].reset_index(drop=True)
    labels = [
        "\n".join(textwrap.wrap(model_label(m, layer), 22))
        for m, layer in zip(sub["model"], sub["layer"], strict=True)
    ]
    fig, ax = _subplots(figsize=(max(5, 0.55 * len(sub) + 2), 4.2))
    x = np.arange(len(sub))
    err = np.vstack([sub["evaluation"] - sub["ci_low"], sub["ci_high"] - sub["evaluation"]])
    ax.bar(x, sub["evaluation"], color="tab:blue", yerr=err, capsize=3, zorder=2)
    low, high = sub["noise_ceiling_lower"].iloc[0], sub["noise_ceiling_upper"].iloc[0]
    if np.isfinite(low) and np.isfinite(high):
        ax.axhspan(low, high, color="0.8", zorder=1, label="noise ceiling")
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(
            0.99,
            0.98,
            "noise ceiling not defined",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            color="0.35",
        )
    for xi, (value, p) in enumerate(zip(sub["ci_high"], sub["mantel_p_fdr"], strict=True)):
        if p < 0.05:
            ax.text(xi, value, "*", ha="center", va="bottom")
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(f"model-human {method}")
    ax.set_title("Model-human agreement (95% dual-bootstrap CI; * Mantel FDR < .05)", fontsize=8)
    fig.tight_layout()
    return fig


def split_half_histogram(reliabilities: np.ndarray, method: str) -> Figure:
    fig, ax = _subplots(figsize=(5, 3.3))
    ok = reliabilities[np.isfinite(reliabilities)]
    ax.hist(ok, bins=min(30, max(5, ok.size // 4)), color="tab:green")
    ax.set_xlabel(f"Spearman-Brown corrected split-half {method}")
    ax.set_ylabel("splits")
    ax.set_title(f"Split-half reliability over {ok.size} random splits", fontsize=9)
    fig.tight_layout()
    return fig


def quality_scatter(quality: pd.DataFrame) -> Figure:
    """Catch accuracy against the share of fast responses; excluded participants in red."""
    fig, ax = _subplots(figsize=(5, 3.8))
    excluded = quality["excluded"].to_numpy(bool)
    x = quality["fast_fraction"].to_numpy(float)
    y = quality["catch_accuracy"].to_numpy(float)
    ax.scatter(x[~excluded], y[~excluded], s=18, label="kept", color="tab:blue")
    ax.scatter(x[excluded], y[excluded], s=24, marker="x", label="excluded", color="tab:red")
    ax.set_xlabel("share of fast responses")
    ax.set_ylabel("catch-trial accuracy")
    ax.legend(fontsize=8)
    ax.set_title("Participant quality", fontsize=9)
    fig.tight_layout()
    return fig


def choice_accuracy(table: pd.DataFrame | None) -> Figure | None:
    if table is None or table.empty:
        return None
    labels = [
        f"{m}/{layer}" if layer else m
        for m, layer in zip(table["model"], table["layer"], strict=True)
    ]
    fig, ax = _subplots(figsize=(max(5, 0.55 * len(table) + 2), 4))
    x = np.arange(len(table))
    err = np.vstack([table["accuracy"] - table["ci_low"], table["ci_high"] - table["accuracy"]])
    ax.bar(x, table["accuracy"], yerr=err, capsize=3, color="tab:purple", zorder=2)
    ax.axhline(table["chance"].iloc[0], color="k", linestyle=":", label="chance")
    if "ceiling_upper" in table:
        low, high = table["ceiling_lower"].iloc[0], table["ceiling_upper"].iloc[0]
        ax.axhspan(low, high, color="0.8", zorder=1, label="majority-agreement ceiling")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("accuracy predicting the human choice")
    ax.legend(fontsize=8)
    ax.set_title("Model choice predictions (95% participant-bootstrap CI)", fontsize=9)
    fig.tight_layout()
    return fig


def decision_weighting(table: pd.DataFrame | None) -> Figure | None:
    """Model-human agreement against k: relevance masks solid, random masks dashed, unmasked
    dotted."""
    if table is None or table.empty:
        return None
    models = sorted(table["model"].unique())
    fig, ax = _subplots(figsize=(6, 4))
    colors = matplotlib.colormaps["tab10"]
    for c, model in enumerate(models):
        sub = table[table["model"] == model]
        for condition, grp in sub.groupby("condition"):
            style = "--" if condition == "random" else "-"
            ax.plot(
                grp["k"],
                grp["evaluation"],
                style,
                marker="o",
                ms=3,
                color=colors(c % 10),
                label=f"{model} ({condition})",
            )
            if "ci_low" in grp:
                ax.fill_between(
                    grp["k"], grp["ci_low"], grp["ci_high"], alpha=0.15, color=colors(c % 10)
                )
        if "unmasked" in sub and sub["unmasked"].notna().any():
            ax.axhline(
                sub["unmasked"].dropna().iloc[0], color=colors(c % 10), linestyle=":", linewidth=1
            )
    ax.set_xlabel("k (share of pixels by relevance)")
    ax.set_ylabel("model-human agreement")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Decision weighting vs humans (dotted: unmasked)", fontsize=9)
    fig.tight_layout()
    return fig


def generalisation(matrix: pd.DataFrame | None) -> Figure | None:
    """G (normalised AUC over k) and its asymmetry G[A, B] - G[B, A]."""
    if matrix is None or matrix.empty:
        return None
    fig, axes = _subplots(1, 2, figsize=(10, 4.2))
    values = matrix.to_numpy(float)
    _heatmap(axes[0], values, "G[A, B]: accuracy of B on A-masked images (AUC)")
    common = [m for m in matrix.index if m in matrix.columns]
    sub = matrix.loc[common, common].to_numpy(float)
    asym = sub - sub.T
    lim = np.nanmax(np.abs(asym)) if np.isfinite(asym).any() else 1.0
    image = axes[1].imshow(asym, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title("Asymmetry G[A,B] - G[B,A]", fontsize=9)
    fig.colorbar(image, ax=axes[1], fraction=0.046, pad=0.04)
    for ax, rows, cols in ((axes[0], matrix.index, matrix.columns), (axes[1], common, common)):
        ax.set_yticks(range(len(rows)), rows, fontsize=6)
        ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=6)
        ax.set_ylabel("A (relevance source)")
        ax.set_xlabel("B (tested model)")
    fig.tight_layout()
    return fig


def part_mass(table: pd.DataFrame | None) -> Figure | None:
    if table is None or table.empty:
        return None
    models = list(table["model"].unique()) if "model" in table else [None]
    parts = sorted(table["part"].unique())
    area = table.groupby("part")["area_share"].mean().reindex(parts)
    fig, ax = _subplots(figsize=(6 + 0.6 * len(models), 3.6))
    x, width = np.arange(len(parts)), 0.8 / (len(models) + 1)
    for k, model in enumerate(models):
        rows = table if model is None else table[table["model"] == model]
        share = rows.groupby("part")["relevance_share"].mean().reindex(parts)
        label = "relevance share" if model is None else f"relevance share: {model}"
        ax.bar(x + (k - len(models) / 2) * width, share, width, label=label)
    ax.bar(x + len(models) / 2 * width, area, width, label="area share", color="0.6")
    ax.set_xticks(x, parts, rotation=30, ha="right")
    ax.legend(fontsize=8)
    ax.set_title("Relevance mass per face part (mean over images)", fontsize=9)
    fig.tight_layout()
    return fig


def relevance_overlays(images, relevance, ids, n_max: int = 8) -> Figure | None:
    """Images with their relevance maps overlaid (red: positive, blue: negative); one row per
    model when ``relevance`` maps model names to maps."""
    if relevance is None:
        return None
    by_model = relevance if isinstance(relevance, Mapping) else {"": relevance}
    rows = {}
    for name, maps in by_model.items():  # copies of the first images only: a set's maps can
        array = np.asarray(maps)  # be hundreds of MB per model
        rows[name] = np.array(array[None] if array.ndim == 2 else array[:n_max], float)
    n = min([n_max, *(len(maps) for maps in rows.values())])
    if images is not None:
        n = min(n, len(images))
    fig, axes = _subplots(len(rows), n, figsize=(2.2 * n, 2.5 * len(rows)), squeeze=False)
    for axes_row, (name, maps) in zip(axes, rows.items(), strict=True):
        for k, ax in enumerate(axes_row):
            if images is not None:
                img = np.asarray(images[k], float)
                img = (img - img.min()) / max(float(np.ptp(img)), 1e-12)
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            lim = float(np.abs(maps[k]).max()) or 1.0
            ax.imshow(
                maps[k], cmap="bwr", vmin=-lim, vmax=lim, alpha=0.55 if images is not None else 1.0
            )
            title = str(ids[k]) if ids is not None else str(k)
            ax.set_title(f"{name}\n{title}" if name else title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def embedding_dims(summary: pd.DataFrame | None, best: int | None) -> Figure | None:
    if summary is None:
        return None
    fig, ax = _subplots(figsize=(5, 3.3))
    ax.errorbar(
        summary["n_dims"],
        summary["heldout_accuracy"],
        yerr=summary["heldout_accuracy_sd"],
        marker="o",
        capsize=3,
    )
    ax.axvline(best, color="0.5", linestyle="--", label=f"chosen: {best}")
    ax.set_xlabel("embedding dimensions")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8)
    ax.set_title("Embedding dimensionality by cross-validation", fontsize=9)
    fig.tight_layout()
    return fig


def classification_images(result) -> Figure | None:
    """Bubbles: each stimulus group's classification image (z), cluster-test regions outlined."""
    groups = list(result.images)
    if not groups:
        return None
    fig, axes = _subplots(1, len(groups), figsize=(3.2 * len(groups), 3.2), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        z = result.images[group].z
        bound = max(float(np.nanmax(np.abs(z))), 1e-9)
        image = ax.imshow(z, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
        significant = result.significant[group, "cluster"]
        if significant.any():
            ax.contour(significant.astype(float), levels=[0.5], colors="black", linewidths=1)
        ax.set_title(f"{group} (z)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig


def decision_maps(result, max_models: int = 6, max_groups: int = 4) -> Figure | None:
    """Bubbles beside relevance, over each group's mean face: per group (row) the human
    classification image (z > 0, full colour from z = 4 up, the cluster test's regions
    outlined) and each model's mean relevance map of the group (positive part, scaled to its
    maximum)."""
    groups = [g for g in result.images if result.faces and g in result.faces][:max_groups]
    maps = result.model_maps or {}
    models = list(maps)[:max_models]
    if not groups:
        return None
    columns = 1 + len(models)
    fig, axes = _subplots(
        len(groups), columns, figsize=(2.3 * columns, 2.4 * len(groups)), squeeze=False
    )
    warm = matplotlib.colormaps["YlOrRd"].with_extremes(under=(0, 0, 0, 0))
    for row, group in zip(axes, groups, strict=True):
        human = np.clip(np.nan_to_num(result.images[group].z), 0, None)
        shown = [("humans (z > 0)", human / max(float(human.max()), 4.0))]
        for model in models:
            values = maps[model].get(group)
            if values is not None:
                values = np.clip(np.nan_to_num(np.asarray(values, float)), 0, None)
                values = values / float(values.max()) if values.max() > 0 else values
            shown.append((model, values))
        face = np.asarray(result.faces[group], float)
        spread = float(np.ptp(face))
        face = (face - face.min()) / spread if spread > 0 else np.full(face.shape, 0.5)
        for ax, (title, values) in zip(row, shown, strict=True):
            ax.imshow(face, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{group}: {title}"[:48], fontsize=6)
            if values is not None:
                ax.imshow(values, cmap=warm, vmin=0.05, vmax=1, alpha=0.65)
        significant = result.significant.get((group, "cluster"))
        if significant is not None and significant.any():
            row[0].contour(significant.astype(float), levels=[0.5], colors="cyan", linewidths=1)
    fig.tight_layout()
    return fig


def stimulus_classification_images(stimuli) -> Figure | None:
    """Bubbles: the first stimuli's classification images (z), cluster-test regions outlined."""
    names = list(stimuli.z)
    if not names:
        return None
    columns = min(6, len(names))
    rows = -(-len(names) // columns)
    fig, axes = _subplots(rows, columns, figsize=(2.2 * columns, 2.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, name in zip(axes.ravel(), names, strict=False):
        z = stimuli.z[name]
        bound = max(float(np.nanmax(np.abs(z))), 1e-9)
        ax.imshow(z, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
        if stimuli.significant[name].any():
            ax.contour(stimuli.significant[name].astype(float), levels=[0.5], colors="black")
        ax.set_title(f"{name} (|z| <= {bound:.1f})", fontsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    return fig


def model_classification_images(z_maps: Mapping[str, Mapping[str, np.ndarray]]) -> Figure | None:
    """Bubbles: each model's classification image (z) per stimulus group (first 12 models)."""
    models = list(z_maps)[:MAX_MODEL_PANELS]
    groups = sorted({group for model in models for group in z_maps[model]})
    if not models:
        return None
    fig, axes = _subplots(
        len(models),
        len(groups),
        figsize=(2.6 * len(groups), 2.4 * len(models)),
        squeeze=False,
    )
    for row, model in enumerate(models):
        for ax, group in zip(axes[row], groups, strict=True):
            ax.set_xticks([])
            ax.set_yticks([])
            z = z_maps[model].get(group)
            if z is None:
                ax.set_title(f"{group}: no map", fontsize=7)
                continue
            bound = max(float(np.nanmax(np.abs(z))), 1e-9)
            ax.imshow(z, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
            ax.set_title(textwrap.shorten(f"{model} · {group}", 40), fontsize=7)
    fig.tight_layout()
    return fig


def randomisation_curves(randomisation: pd.DataFrame) -> Figure | None:
    """Cascading randomisation: each similarity to the original maps per randomised layer
    (output layer first), one line per model and method."""
    if randomisation is None or randomisation.empty:
        return None
    panels = ["spearman_abs", "spearman_signed", "ssim", "top_iou"]
    titles = ["Spearman (absolute)", "Spearman (signed)", "SSIM", "top-k IoU"]
    fig, axes = _subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    curves = list(randomisation.groupby(["model", "method"], sort=True))
    for ax, column, title in zip(axes[0], panels, titles, strict=True):
        for (model, method), rows in curves:
            rows = rows.sort_values("step")
            ax.plot(
                rows["step"], rows[column], marker="o", markersize=3, label=f"{model} · {method}"
            )
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("layers randomised (from the output)", fontsize=8)
        ax.set_ylim(-1.05, 1.05)
    axes[0][0].set_ylabel("similarity to the original maps", fontsize=8)
    if len(curves) <= MAX_MODEL_PANELS:
        axes[0][-1].legend(fontsize=5, loc="lower left")
    fig.tight_layout()
    return fig
