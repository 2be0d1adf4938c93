"""Assemble the report: figures, HTML (Jinja2), PDF (matplotlib PdfPages) and exports."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.pipeline import StudyAnalysis
from analysis.report import figures
from analysis.report.exports import write_exports
from analysis.report.layout import cluster_order
from analysis.report.methods_text import methods_paragraphs

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_TABLE_ROWS = 40
PDF_METADATA = {"Creator": "FaceSim Lab analysis", "Producer": None, "CreationDate": None}


@dataclass
class _Section:
    title: str
    text: str = ""
    figures: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by `write_report`."""

    html: Path
    pdf: Path
    files: tuple[Path, ...]


def _table(title: str, frame: pd.DataFrame | None, csv: str) -> dict | None:
    if frame is None or frame.empty:
        return None
    shown = frame.head(MAX_TABLE_ROWS)
    html = shown.to_html(
        index=False,
        classes="data",
        float_format=lambda v: f"{v:.4g}",
        na_rep="",
        escape=True,
        border=0,
    )
    return {
        "title": title,
        "html": html,
        "truncated": len(frame) > len(shown),
        "shown": len(shown),
        "total": len(frame),
        "csv": csv,
        "frame": shown,
    }


def _sections(a: StudyAnalysis, fig_dir: Path) -> tuple[list[_Section], list[tuple[str, Figure]]]:
    order = cluster_order(a.human_group)
    made: list[tuple[str, Figure]] = []

    def add(section: _Section, name: str, fig: Figure | None, caption: str) -> None:
        if fig is None:
            return
        made.append((caption, fig))
        path = fig_dir / f"{name}.png"
        fig.savefig(path, dpi=110, metadata={"Software": None})
        section.figures.append({"path": f"figures/{name}.png", "caption": caption})

    method = a.parameters.primary_method
    quality = _Section("Participants and exclusions")
    add(
        quality,
        "quality",
        figures.quality_scatter(a.exclusion.quality),
        "Catch-trial accuracy against the share of fast responses; crosses were excluded.",
    )
    quality.tables += [
        t
        for t in (
            _table(
                "Exclusions (one row per participant and rule)",
                a.exclusion.exclusions,
                "tables/exclusions.csv",
            ),
            _table("Participant quality", a.exclusion.quality, "tables/participant_quality.csv"),
            _table(
                "Export rows dropped on reading (they break a rule of the export)",
                a.dropped_rows,
                "tables/dropped_rows.csv",
            ),
        )
        if t
    ]
    human = _Section("Human similarity", f"Source: {a.matrix_source}; {a.human_group.measure}.")
    add(
        human,
        "human_heatmap",
        figures.human_heatmap(a.human_group, order),
        "Human dissimilarity matrix ordered by average-linkage clustering.",
    )
    add(human, "mds", figures.mds_map(a.human_group), "Classical MDS map of the human matrix.")
    if a.embedding is not None:
        add(
            human,
            "embedding_dims",
            figures.embedding_dims(a.embedding.summary(), a.embedding.best_dims),
            "Held-out accuracy by embedding dimensionality.",
        )
    reliability = _Section("Reliability", " ".join(a.ceiling_notes()))
    add(
        reliability,
        "split_half",
        figures.split_half_histogram(a.split_half.reliabilities, method),
        "Distribution of Spearman-Brown corrected split-half reliabilities.",
    )
    split = pd.DataFrame([a.split_half.summary()])
    reliability.tables += [
        t
        for t in (
            _table("Split-half reliability", split, "tables/split_half.csv"),
            _table("Noise ceilings", a.noise_ceilings, "tables/noise_ceilings.csv"),
            _table(
                "Noise-ceiling bounds per participant (on the pairs shared with others)",
                a.ceiling_participants,
                "tables/noise_ceiling_participants.csv",
            ),
            _table(
                "Majority-agreement ceiling",
                pd.DataFrame([a.majority.as_dict()]) if a.majority else None,
                "results.json",
            ),
        )
        if t
    ]
    sections = [quality, human, reliability]
    if a.models:
        models = _Section("Models vs humans")
        add(
            models,
            "model_heatmaps",
            figures.model_heatmaps(a.models, order),
            "Model dissimilarity matrices in the human clustering order.",
        )
        add(
            models,
            "model_correlations",
            figures.model_correlations(a.comparison, method),
            f"Model-human {method} with 95% dual-bootstrap CIs; grey band: noise ceiling"
            + ("." if _has_band(a, method) else " (not defined here, see Reliability)."),
        )
        add(
            models,
            "choice_accuracy",
            figures.choice_accuracy(a.choice_accuracy),
            "Accuracy of model choice predictions with chance; grey band: majority-agreement "
            "ceiling (leave-one-response-out to majority agreement)"
            + ("." if a.majority is not None else " (not measured: no repeated triplets)."),
        )
        models.tables += [
            t
            for t in (
                _table("Model comparison", a.comparison, "tables/model_comparison.csv"),
                _table("Pairwise model differences", a.differences, "tables/model_differences.csv"),
                _table("Model choice accuracy", a.choice_accuracy, "tables/choice_accuracy.csv"),
            )
            if t
        ]
        sections.append(models)
    rel = a.relevance_inputs
    if any(x is not None for x in (a.decision_weighting, a.generalisation_matrix, a.part_mass)) or (
        rel is not None and rel.relevance is not None
    ):
        relevance = _Section("Relevance")
        add(
            relevance,
            "decision_weighting",
            figures.decision_weighting(a.decision_weighting),
            "Model-human agreement for relevance-masked and random-masked images against k.",
        )
        add(
            relevance,
            "generalisation",
            figures.generalisation(a.generalisation_matrix),
            "Cross-model relevance generalisation (AUC over k) and its asymmetry.",
        )
        add(
            relevance,
            "part_mass",
            figures.part_mass(a.part_mass),
            "Share of positive relevance and of area per face part.",
        )
        if rel is not None:
            add(
                relevance,
                "relevance_overlays",
                figures.relevance_overlays(rel.images, rel.relevance, rel.image_ids),
                "Relevance maps over their images (red: evidence for the target).",
            )
        relevance.tables += [
            t
            for t in (
                _table("Decision weighting", a.decision_weighting, "tables/decision_weighting.csv"),
                _table(
                    "Generalisation by model group",
                    a.generalisation_groups,
                    "tables/generalisation_groups.csv",
                ),
                _table(
                    "Generalisation asymmetry",
                    a.generalisation_asymmetry,
                    "tables/generalisation_asymmetry.csv",
                ),
                _table("Relevance mass per part", a.part_mass, "tables/part_mass.csv"),
            )
            if t
        ]
        sections.append(relevance)
    return sections, made


def _has_band(a: StudyAnalysis, method: str) -> bool:
    row = a.noise_ceilings[a.noise_ceilings["method"] == method]
    return bool(len(row)) and bool(np.isfinite(row[["lower", "upper"]].to_numpy(float)).all())


def _ceiling_text(a: StudyAnalysis, method: str) -> str:
    row = a.noise_ceilings[a.noise_ceilings["method"] == method]
    if not _has_band(a, method):
        return "not defined (see Reliability)"
    r = row.iloc[0]
    text = f"{r['lower']:.3f} - {r['upper']:.3f}"
    if "n_lower" in row and (r["n_lower"] < r["n_participants"]):
        text += f" (lower bound from {r['n_lower']} of {r['n_participants']} participants)"
    return text


def _headline(a: StudyAnalysis) -> list[tuple[str, str]]:
    s = a.exclusion.summary()
    sh = a.split_half.summary()
    method = a.parameters.primary_method
    rows = [
        ("trial type", a.trial_type),
        ("stimuli", str(len(a.stimuli))),
        ("participants analysed / excluded", f"{a.human.n_participants} / {s['n_excluded']}"),
        ("export rows dropped", str(a.summary()["n_dropped_rows"])),
        ("human matrix", a.matrix_source),
        ("missing pairs", str(a.human_group.n_missing_pairs)),
        ("split-half reliability (mean)", f"{sh.get('reliability_mean', float('nan')):.3f}"),
        (f"noise ceiling ({method})", _ceiling_text(a, method)),
        ("seed", str(a.parameters.random_state)),
    ]
    if a.majority is not None:
        m = a.majority
        rows.append(("majority-agreement ceiling", f"{m.lower:.3f} - {m.accuracy:.3f}"))
    elif a.majority_note:
        rows.append(("majority-agreement ceiling", "not measured (no repeated triplets)"))
    return rows


def _text_page(pdf: PdfPages, title: str, paragraphs: list[str]) -> None:
    lines = [title, ""]
    for paragraph in paragraphs:
        lines += [*textwrap.wrap(paragraph, 100), ""]
    per_page = 60
    for start in range(0, len(lines), per_page):
        fig = Figure(figsize=(8.27, 11.69))
        fig.text(
            0.06,
            0.96,
            "\n".join(lines[start : start + per_page]),
            va="top",
            ha="left",
            family="monospace",
            fontsize=7.5,
        )
        pdf.savefig(fig)


def _table_page(pdf: PdfPages, title: str, frame: pd.DataFrame) -> None:
    shown = frame.head(30).copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    shown = shown.astype(str).apply(lambda c: c.str.slice(0, 18))
    fig = Figure(figsize=(11.69, 8.27))
    ax = fig.subplots()
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    table = ax.table(
        cellText=shown.to_numpy(),
        colLabels=[str(c)[:18] for c in shown.columns],
        loc="upper center",
        cellLoc="right",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(max(4, 9 - len(shown.columns) // 4))
    pdf.savefig(fig)


def write_report(analysis: StudyAnalysis, out_dir: str | Path) -> ReportFiles:
    """Write the HTML page, PDF, figures and exports of `analysis` into `out_dir`."""
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written = write_exports(analysis, out)
    sections, made = _sections(analysis, fig_dir)
    methods = methods_paragraphs(analysis)
    headline = _headline(analysis)
    pdf_path = out / "report.pdf"
    with PdfPages(pdf_path, metadata=PDF_METADATA) as pdf:
        _text_page(
            pdf,
            f"Similarity report: {analysis.study}",
            [f"{k}: {v}" for k, v in headline] + ["Methods"] + methods,
        )
        for _, fig in made:
            pdf.savefig(fig)
        for section in sections:
            for t in section.tables:
                _table_page(pdf, f"{section.title}: {t['title']}", t["frame"])
    files = sorted(str(p.relative_to(out)) for p in [*written, pdf_path, *fig_dir.glob("*.png")])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["j2"]),
        undefined=jinja2.StrictUndefined,
    )
    html = env.get_template("report.html.j2").render(
        study=analysis.study,
        headline=headline,
        methods=methods,
        sections=sections,
        files=[f for f in files if f != "index.html"],
    )
    html_path = out / "index.html"
    html_path.write_text(html, encoding="utf-8")
    paths = tuple(sorted({*map(Path, written), pdf_path, html_path, *fig_dir.glob("*.png")}))
    return ReportFiles(html_path, pdf_path, paths)
