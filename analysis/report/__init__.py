"""The study report: HTML page, PDF, figures and machine-readable exports.

``write_report(analysis, out_dir, ReportMeta(title=..., dashboard_url=...))`` writes::

    index.html, report.pdf, figures/*.png, tables/*.csv, results.json, matrices.npz,
    rdms_rsatoolbox.pkl, participant_rdms_rsatoolbox.pkl, triplets.csv (+ triplets_stimuli.csv)

The page and the PDF open with a summary (one sentence and one row per model/layer, and its
figure); wide tables are in an appendix (and every table in tables/*.csv).
The PDF is built with matplotlib's PdfPages (text pages, the figures two to a page, tables
set in 7 pt type and split across pages by columns and rows):
it works offline with no system libraries, unlike HTML-to-PDF converters such as WeasyPrint
(which need Pango) -- see analysis/README.md.  Outputs are deterministic: the same analysis
gives byte-identical tables, JSON and PDF (no creation dates are written).
"""

from __future__ import annotations

from analysis.report.build import ReportFiles, ReportMeta, write_report

__all__ = ["ReportFiles", "ReportMeta", "write_report"]
