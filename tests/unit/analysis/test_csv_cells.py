"""Formula injection (OWASP): every CSV cell a spreadsheet could run starts with a quote."""

import csv
import dataclasses

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.csv_cells import TRIGGERS, neutralise_cell, restore_cell, write_csv
from analysis.io import read_responses
from analysis.report.exports import write_exports
from analysis.simulate import Design, random_dissimilarity, simulate_responses
from analysis.study_analysis import AnalysisParameters, analyse_study
from tests.unit.analysis.test_recovery import ranked_models

# Names as the analysis sees them (read_responses strips blanks, so no leading tab or CR).
HOSTILE = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-A1", "'-A1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("''", "'''"),
        ("'x", "'x"),
        ("'", "'"),
        ("face 1", "face 1"),
        ("", ""),
        (-3.5, -3.5),
    ],
)
def test_cells_are_neutralised(value, written):
    assert neutralise_cell(value) == written
    assert restore_cell(written) == value


@given(st.text())
def test_neutralising_is_reversible_and_leaves_no_formula(text):
    written = neutralise_cell(text)
    assert not written.startswith(TRIGGERS)
    assert restore_cell(written) == text


def test_write_csv_quotes_text_cells_and_headers_not_numbers(tmp_path):
    frame = pd.DataFrame({"=label": ["=cmd", "ok"], "value": [-1.5, 2.0]})
    write_csv(frame, tmp_path / "t.csv", index=False)
    with open(tmp_path / "t.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["'=label", "value"], ["'=cmd", "-1.5"], ["ok", "2.0"]]


def test_report_tables_neutralise_stimulus_names(tmp_path):
    truth = random_dissimilarity(len(HOSTILE) + 4, random_state=3)
    names = (*HOSTILE, *(f"face{i}" for i in range(4)))
    truth = dataclasses.replace(truth, stimuli=names)
    design = Design(n_participants=4, n_trials=120, repeat_fraction=0.1)
    rows = read_responses(simulate_responses(truth, design, random_state=1))
    params = AnalysisParameters(n_boot=10, n_permutations=10, n_splits=4, methods=("spearman",))
    analysis = analyse_study(rows, ranked_models(truth), parameters=params)
    written = [p for p in write_exports(analysis, tmp_path) if p.suffix == ".csv"]
    assert any(p.name == "human_matrix_long.csv" for p in written)
    seen_names = set()
    for path in written:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell.startswith(TRIGGERS):
                        float(cell)  # only numbers (e.g. -0.25) may start with a minus
                    seen_names.add(restore_cell(cell))
    assert set(HOSTILE) <= seen_names
