"""responses.csv: stimulus names a spreadsheet could run as formulas start with a quote."""

import csv
import io

import pandas as pd
import pytest
from django.urls import reverse

from analysis.csv_cells import QUOTE, TRIGGERS
from analysis.io import read_responses
from studyapp.payloads import parse_response
from studyapp.selectors import exports
from studyapp.services.responses import response_record
from studyapp.services.stimuli import stimulus_set_import
from tests.factories import answer_for, make_study, png_bytes, source, start_participant

pytestmark = pytest.mark.django_db
NAMES = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "'=quoted", "plain"]


def test_responses_csv_neutralises_formula_names_and_reads_back(staff_client):
    files = [source(f"{name}.png", png_bytes(i)) for i, name in enumerate(NAMES)]
    stimulus_set, _ = stimulus_set_import(name="hostile", files=files)
    study = make_study(stimulus_set, slug="-hostile", trials_per_participant=30)
    participant = start_participant(study)
    for trial in participant.trials.order_by("index"):
        body = answer_for(trial, study)
        if trial.role == "catch":
            body["choice"] = trial.correct_item
        response_record(token=participant.token, payload=parse_response(body))

    response = staff_client.get(reverse("research-responses-csv", args=[study.slug]))
    data = b"".join(response.streaming_content)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows
    columns = ("study", "item_1", "item_2", "item_3", "choice")
    cells = {row[c] for row in rows for c in columns if row[c]}
    assert not [cell for cell in cells if cell.startswith(TRIGGERS)]
    quoted = {"'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)", "'\tTab", "'\rCR", "''=quoted"}
    assert quoted | {"plain"} <= cells
    assert {row["study"] for row in rows} == {"'-hostile"}

    frame = read_responses(pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False))
    shown = set(frame[["item_1", "item_2", "item_3"]].stack()) - {""}
    assert shown == {name.strip() for name in NAMES}
    assert set(frame["study"]) == {"-hostile"}


def test_the_sql_export_neutralises_the_same_characters_as_the_analysis():
    assert (exports.TRIGGERS, exports.QUOTE) == (TRIGGERS, QUOTE)
