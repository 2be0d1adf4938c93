"""The PDF's pages: tables in readable type that fit the page, figures two to a page."""

import itertools
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.report.pdf_pages import figure_pages, table_pages

MIN_POINTS = 6.0


def pdf_font_sizes(path: Path) -> list[float]:
    """Every font size a PDF's content streams set (`/F1 7 Tf`), read from the file."""
    sizes = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", path.read_bytes(), re.S):
        try:
            text = zlib.decompress(stream)
        except zlib.error:
            text = stream
        sizes += [float(s) for s in re.findall(rb"/F\d+ ([\d.]+) Tf", text)]
    return sizes


def wide_table(n_rows: int = 40) -> pd.DataFrame:
    """The model comparison table's shape: 3 label columns (one long name) + 22 numbers."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "model": [f"resnet50-imagenet-finetuned-identity-seed-{k}" for k in range(n_rows)],
            "layer": ["layer4.2.conv3"] * n_rows,
            "method": ["spearman"] * n_rows,
        }
    )
    for k in range(22):
        frame[f"statistic_number_{k}_long_name"] = rng.normal(size=n_rows) / 7
    return frame


def text_boxes(fig: Figure):
    renderer = FigureCanvasAgg(fig).get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in fig.texts], fig.bbox


def test_a_wide_table_is_split_into_pages_in_readable_type_that_fit():
    frame = wide_table()
    pages = table_pages("Model comparison", frame)
    assert len(pages) >= 3  # 25 columns and 40 rows do not fit one page at 7 pt
    seen = set()
    for page in pages:
        boxes, bounds = text_boxes(page)
        for text, box in boxes:
            assert text.get_fontsize() >= MIN_POINTS
            assert min(box.x0 - bounds.x0, box.y0 - bounds.y0) >= 0, text.get_text()
            assert max(box.x1 - bounds.x1, box.y1 - bounds.y1) <= 0, text.get_text()
        cells = sorted((box for _, box in boxes[1:]), key=lambda b: (round(b.y1), b.x0))
        for left, right in itertools.pairwise(cells):
            if round(left.y1) == round(right.y1):  # same row: no overlap
                assert left.x1 <= right.x0
        page_text = [t.get_text().replace("\n", "") for t, _ in boxes]
        assert any(s.startswith("resnet50-imagenet") for s in page_text)  # key column repeats
        seen.update(page_text)
    for column in frame.columns[3:]:
        assert column in seen
        assert all(f"{v:.4g}" in seen for v in frame[column])
    assert set(frame["model"]) <= seen  # long names wrapped, never cut


def test_a_narrow_table_is_one_page():
    frame = pd.DataFrame({"method": ["spearman", "pearson"], "lower": [0.5, 0.6]})
    (page,) = table_pages("Noise ceilings", frame)
    assert "(" not in page.texts[0].get_text()  # no "part 1 of n"


def figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_figures_go_two_to_a_page_where_they_fit():
    made = [
        ("a", figure(5, 3.3)),
        ("b", figure(6, 4)),
        ("c", figure(6.5, 5.5)),
        ("d", figure(10, 4.2)),
        ("e", figure(13, 12)),
    ]
    pages = figure_pages(made)
    per_page = [len(page.axes) for page in pages]
    assert per_page == [2, 2, 1]
    captions = [t.get_text() for page in pages for t in page.texts]
    assert captions == ["a", "b", "c", "d", "e"]
    for page in pages:
        for ax in page.axes:
            x0, y0, x1, y1 = ax.get_position().extents
            assert min(x0, y0) >= 0
            assert max(x1, y1) <= 1
    assert figure_pages([]) == []
