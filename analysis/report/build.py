"""Assemble the report: figures, HTML (Jinja2), PDF (matplotlib PdfPages) and exports."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.report.exports import write_exports
from analysis.report.methods_text import methods_paragraphs
from analysis.report.screening_text import ScreeningRules
from analysis.report.sections import build_sections, has_ceiling_band
from analysis.study_analysis import StudyAnalysis

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_METADATA = {"Creator": "FaceSim Lab analysis", "Producer": None, "CreationDate": None}


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by `write_report`."""

    html: Path
    pdf: Path
    files: tuple[Path, ...]


def _ceiling_text(a: StudyAnalysis, method: str) -> str:
    row = a.noise_ceilings[a.noise_ceilings["method"] == method]
    if not has_ceiling_band(a, method):
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


def write_report(
    analysis: StudyAnalysis, out_dir: str | Path, *, screening: ScreeningRules | None = None
) -> ReportFiles:
    """Write the HTML page, PDF, figures and exports of `analysis` into `out_dir`;
    `screening`: the platform's screening of participants, for the methods text."""
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written = write_exports(analysis, out)
    sections, made = build_sections(analysis, fig_dir)
    methods = methods_paragraphs(analysis, screening)
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
