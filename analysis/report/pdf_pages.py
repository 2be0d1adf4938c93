"""The PDF's pages as matplotlib Figures: wrapped text, tables set in readable type (split
across pages by columns and rows), and the report's figures two to a page where they fit.

Tables are typeset here rather than with ``matplotlib.table``, which shrinks the type to fit
every column on one page: each column is as wide as its longest (wrapped) line at
`TABLE_FONT_SIZE`, the leading label columns repeat on every page, and the other columns go
on as many pages as they need.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib.image
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

A4_PORTRAIT = (8.27, 11.69)
A4_LANDSCAPE = (11.69, 8.27)
MARGIN = 0.5  # inches
TABLE_FONT_SIZE = 7.0  # points
LINE = TABLE_FONT_SIZE * 1.3 / 72  # inches per line of table text
EM = 0.62  # widest average advance of DejaVu Sans digits and letters, in em (conservative)
PAD = 0.1  # inches between columns
CELL_WRAP = 28  # characters per line of a table cell
HEADER_WRAP = 14  # characters per line of a column head
MAX_KEY_COLUMNS = 3  # leading text columns repeated on every page of a table
FIGURE_DPI = 150  # figures are placed on the PDF's pages as images of this resolution
FIGURES_PER_PAGE = 2


def text_pages(title: str, paragraphs: list[str]) -> list[Figure]:
    """Portrait pages of monospace text, 60 lines each."""
    lines = [title, ""]
    for paragraph in paragraphs:
        lines += [*textwrap.wrap(paragraph, 100), ""]
    pages = []
    for start in range(0, len(lines), 60):
        fig = Figure(figsize=A4_PORTRAIT)
        fig.text(
            0.06,
            0.96,
            "\n".join(lines[start : start + 60]),
            va="top",
            ha="left",
            family="monospace",
            fontsize=7.5,
        )
        pages.append(fig)
    return pages


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, broken at spaces, slashes and underscores first."""
    marked = text.replace("/", "/ ").replace("_", "_ ")
    lines = textwrap.wrap(marked, width, break_on_hyphens=True) or [""]
    return [line.replace("/ ", "/").replace("_ ", "_") for line in lines]


def _width(lines: list[str]) -> float:
    """Inches a column of these lines needs at `TABLE_FONT_SIZE`, with its padding."""
    return max(len(line) for line in lines) * EM * TABLE_FONT_SIZE / 72 + PAD


def _column_chunks(widths: list[float], n_key: int, room: float) -> list[list[int]]:
    """Column indices per page: the key columns, then as many others as fit in `room`."""
    key = list(range(n_key))
    chunks: list[list[int]] = []
    current: list[int] = []
    used = sum(widths[:n_key])
    for col in range(n_key, len(widths)):
        if current and used + widths[col] > room:
            chunks.append(key + current)
            current, used = [], sum(widths[:n_key])
        current.append(col)
        used += widths[col]
    if current or not chunks:
        chunks.append(key + current)
    return chunks


def _row_chunks(heights: list[int], room_lines: int) -> list[list[int]]:
    """Row indices per page so that each page's lines fit in `room_lines`."""
    chunks: list[list[int]] = [[]]
    used = 0
    for row, height in enumerate(heights):
        if chunks[-1] and used + height > room_lines:
            chunks.append([])
            used = 0
        chunks[-1].append(row)
        used += height
    return chunks


def table_pages(title: str, frame: pd.DataFrame) -> list[Figure]:
    """Landscape pages showing every cell of `frame` in `TABLE_FONT_SIZE` type."""
    head = [_wrap(str(c), HEADER_WRAP) for c in frame.columns]
    body = [[_wrap(_cell(v), CELL_WRAP) for v in row] for row in frame.itertuples(index=False)]
    widths = [_width(head[c] + [line for row in body for line in row[c]]) for c in range(len(head))]
    text_columns = [not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    n_key = 0
    while n_key < min(MAX_KEY_COLUMNS, len(head) - 1) and text_columns[n_key]:
        n_key += 1
    page_w, page_h = A4_LANDSCAPE
    room = page_w - 2 * MARGIN
    while n_key and sum(widths[:n_key]) > room / 2:  # keep room for the other columns
        n_key -= 1
    columns = _column_chunks(widths, n_key, room)
    head_lines = max(len(h) for h in head)
    room_lines = int((page_h - 2 * MARGIN - 0.4) / LINE) - head_lines - 1
    rows = _row_chunks([max(len(c) for c in row) for row in body], room_lines)
    pages = []
    for ci, cols in enumerate(columns):
        for chunk in rows:
            part = []
            if len(columns) > 1:
                part.append(f"columns part {ci + 1} of {len(columns)}")
            if len(rows) > 1:
                part.append(f"rows {chunk[0] + 1}-{chunk[-1] + 1} of {len(body)}")
            label = f"{title} ({'; '.join(part)})" if part else title
            pages.append(_table_page(label, head, body, widths, cols, chunk, text_columns))
    return pages


def _table_page(title, head, body, widths, cols, rows, text_columns) -> Figure:
    page_h = A4_LANDSCAPE[1]
    fig = Figure(figsize=A4_LANDSCAPE)
    inches = fig.dpi_scale_trans
    y = page_h - MARGIN
    fig.text(MARGIN, y, textwrap.shorten(title, 150), transform=inches, va="top", fontsize=10)
    y -= 0.35

    def line(at: float) -> None:
        x1 = MARGIN + sum(widths[c] for c in cols)
        fig.add_artist(Line2D([MARGIN, x1], [at, at], transform=inches, lw=0.5, color="0.4"))

    def cells(lines_per_col: list[list[str]], top: float) -> float:
        x = MARGIN
        for c, lines in zip(cols, lines_per_col, strict=True):
            right = not text_columns[c]
            fig.text(
                x + widths[c] - PAD / 2 if right else x + PAD / 2,
                top,
                "\n".join(lines),
                transform=inches,
                va="top",
                ha="right" if right else "left",
                fontsize=TABLE_FONT_SIZE,
                linespacing=1.15,
            )
            x += widths[c]
        return top - max(len(lines) for lines in lines_per_col) * LINE

    line(y + 0.04)
    y = cells([head[c] for c in cols], y)
    line(y + 0.02)
    for r in rows:
        y = cells([body[r][c] for c in cols], y - 0.02)
    line(y)
    return fig


def _image(fig: Figure):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")


def figure_pages(made: list[tuple[str, Figure]]) -> list[Figure]:
    """Portrait pages with up to `FIGURES_PER_PAGE` figures each (as many as fit, in order),
    each with its caption; a figure is never enlarged."""
    page_w, page_h = A4_PORTRAIT
    room_w, room_h = page_w - 2 * MARGIN, page_h - 2 * MARGIN
    placed: list[list[tuple[str, Figure, float, float]]] = [[]]
    used = 0.0
    for caption, fig in made:
        fig_w, fig_h = fig.get_size_inches()
        scale = min(1.0, room_w / fig_w, room_h * 0.9 / fig_h)
        height = fig_h * scale + 0.45  # + caption
        if placed[-1] and (used + height > room_h or len(placed[-1]) == FIGURES_PER_PAGE):
            placed.append([])
            used = 0.0
        placed[-1].append((caption, fig, fig_w * scale, fig_h * scale))
        used += height
    pages = []
    for group in placed if made else []:
        page = Figure(figsize=A4_PORTRAIT)
        top = page_h - MARGIN
        for caption, fig, w, h in group:
            left = (page_w - w) / 2
            ax = page.add_axes((left / page_w, (top - h) / page_h, w / page_w, h / page_h))
            ax.imshow(_image(fig), interpolation="none")
            ax.axis("off")
            page.text(
                MARGIN / page_w,
                (top - h - 0.08) / page_h,
                "\n".join(textwrap.wrap(caption, 120)),
                va="top",
                fontsize=8,
            )
            top -= h + 0.45
        pages.append(page)
    return pages
