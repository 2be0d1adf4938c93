"""Assemble the report: figures, HTML (Jinja2), PDF (matplotlib PdfPages) and exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.report.exports import write_exports
from analysis.report.methods_text import methods_paragraphs
from analysis.report.pdf_pages import figure_pages, table_pages, text_pages
from analysis.report.screening_text import ScreeningRules
from analysis.report.sections import Section, build_sections, has_ceiling_band
from analysis.study_analysis import StudyAnalysis

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_METADATA = {"Creator": "FaceSim Lab analysis", "Producer": None, "CreationDate": None}


@dataclass(frozen=True, kw_only=True)
class ReportMeta:
    """What the report says about where it comes from: the study's title (the report falls
    back to the analysis's study id) and the address of its dashboard (no link without)."""

    title: str | None = None
    dashboard_url: str | None = None


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


def _pdf(
    path: Path,
    *,
    title: str,
    meta: ReportMeta,
    headline: list[tuple[str, str]],
    methods: list[str],
    sections: list[Section],
    made: list[tuple[str, Figure]],
) -> None:
    """Summary sentences and table, study facts and methods, figures, then every table."""
    summary, *rest = sections
    opening = [f"Dashboard: {meta.dashboard_url}"] if meta.dashboard_url else []
    pages = text_pages(title, [*opening, "Summary", summary.text, *summary.points])
    for t in summary.tables:
        pages += table_pages(t["title"], t["frame"])
    pages += text_pages("Study", [f"{k}: {v}" for k, v in headline] + ["Methods", *methods])
    pages += figure_pages(made)
    for section in rest:
        for t in section.tables:
            pages += table_pages(f"{section.title}: {t['title']}", t["frame"])
    with PdfPages(path, metadata=PDF_METADATA) as pdf:
        for page in pages:
            pdf.savefig(page)


def write_report(
    analysis: StudyAnalysis,
    out_dir: str | Path,
    meta: ReportMeta | None = None,
    *,
    screening: ScreeningRules | None = None,
) -> ReportFiles:
    """Write the HTML page, PDF, figures and exports of `analysis` into `out_dir`;
    `screening`: the platform's screening of participants, for the methods text."""
    meta = meta or ReportMeta()
    title = f"Similarity report: {meta.title or analysis.study}"
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    written = write_exports(analysis, out)
    sections, made = build_sections(analysis, fig_dir)
    methods = methods_paragraphs(analysis, screening)
    headline = _headline(analysis)
    pdf_path = out / "report.pdf"
    _pdf(
        pdf_path,
        title=title,
        meta=meta,
        headline=headline,
        methods=methods,
        sections=sections,
        made=made,
    )
    files = sorted(str(p.relative_to(out)) for p in [*written, pdf_path, *fig_dir.glob("*.png")])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["j2"]),
        undefined=jinja2.StrictUndefined,
    )
    html = env.get_template("report.html.j2").render(
        title=title,
        study=analysis.study,
        dashboard_url=meta.dashboard_url,
        headline=headline,
        methods=methods,
        summary=sections[0],
        sections=sections[1:],
        appendix=[s for s in sections if any(t["wide"] for t in s.tables)],
        files=[f for f in files if f != "index.html"],
    )
    html_path = out / "index.html"
    html_path.write_text(html, encoding="utf-8")
    paths = tuple(sorted({*map(Path, written), pdf_path, html_path, *fig_dir.glob("*.png")}))
    return ReportFiles(html_path, pdf_path, paths)
