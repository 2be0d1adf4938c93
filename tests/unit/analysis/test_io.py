"""Reading the platform export and writing matrices/triplets other tools can load."""

import re

import numpy as np
import pandas as pd
import pytest
import rsatoolbox

from analysis.human.choices import choice_table
from analysis.io import (
    RESPONSE_COLUMNS,
    load_matrices_npz,
    read_responses,
    read_responses_dropping_bad_rows,
    save_matrices_npz,
    write_rsatoolbox_pkl,
    write_things_triplets,
)
from analysis.matrices import ParticipantMatrices, SimilarityMatrix, vector_to_square
from tests.unit.analysis.helpers import stimuli

BASE = {
    "study": "s1",
    "participant": "P1",
    "participant_status": "completed",
    "trial_index": "0",
    "block": "1",
    "trial_type": "triplet",
    "role": "main",
    "repeat_of": "",
    "item_1": "a",
    "item_2": "b",
    "item_3": "c",
    "choice": "c",
    "rating": "",
    "rating_min": "",
    "rating_max": "",
    "correct": "",
    "rt_ms": "900",
    "responded_at": "2026-11-01T10:00:00.000Z",
    "received_at": "2026-11-01T10:00:00.080Z",
}


def frame(*rows):
    return pd.DataFrame([{**BASE, "trial_index": str(k), **r} for k, r in enumerate(rows)])


def test_reads_csv_and_types_columns(tmp_path):
    rows = frame(
        {},
        {"role": "catch", "item_2": "a", "choice": "c", "correct": "true"},
        {"role": "repeat", "repeat_of": "0", "choice": "a"},
        {
            "trial_type": "rating",
            "item_3": "",
            "choice": "",
            "rating": "5",
            "rating_min": "1",
            "rating_max": "7",
        },
        {"trial_type": "afc", "choice": "b"},
    )
    path = tmp_path / "export.csv"
    rows.to_csv(path, index=False)
    out = read_responses(path)
    assert list(out.columns) == list(RESPONSE_COLUMNS)
    assert out["trial_index"].dtype == "Int64"
    assert out["correct"].tolist()[:2] == [pd.NA, True]
    assert out["repeat_of"].iloc[2] == 0
    assert out["rating"].iloc[3] == 5.0
    assert str(out["responded_at"].dt.tz) == "UTC"
    same = read_responses(rows)
    pd.testing.assert_frame_equal(out, same)


BAD_ROWS = [
    ({"participant_status": "done"}, "participant_status in"),
    ({"trial_type": "pairs"}, "trial_type in"),
    ({"role": "warmup"}, "role in"),
    ({"choice": "zz"}, "one of its items"),
    ({"trial_type": "afc", "choice": "a"}, "item_2 or item_3"),
    (
        {
            "trial_type": "rating",
            "item_3": "",
            "rating": "9",
            "rating_min": "1",
            "rating_max": "7",
            "choice": "",
        },
        "within \\[rating_min",
    ),
    (
        {
            "trial_type": "rating",
            "item_3": "",
            "rating": "",
            "rating_min": "1",
            "rating_max": "7",
            "choice": "",
        },
        "a rating on every rating trial",
    ),
    ({"role": "catch", "correct": ""}, "correct set on catch trials"),
    ({"role": "repeat", "repeat_of": ""}, "repeat_of set on repeat trials"),
    ({"role": "repeat", "repeat_of": "41"}, "repeat_of naming a trial"),
    ({"correct": "maybe"}, "correct as true/false"),
    ({"rt_ms": "fast"}, "rt_ms as numbers"),
    ({"responded_at": "yesterday"}, "ISO 8601"),
    # PostgreSQL's text for year 1 at +01:00, as the export wrote it before times were checked
    ({"responded_at": "0001-12-31T23:00:00TBCZ"}, "responded_at as ISO 8601"),
    ({"received_at": "2026-13-01T00:00:00Z"}, "received_at as ISO 8601"),
    ({"rt_ms": "inf"}, "finite rt_ms"),
    ({"rt_ms": "-5"}, "non-negative"),
    ({"trial_index": "1.5"}, "trial_index as integers"),
    ({"item_3": ""}, "item_3 on triplet"),
    (
        {"trial_type": "bubbles", "choice": "a", "correct": "false"},
        "the choice of a Bubbles match to be item_2 or item_3",
    ),
    (
        {"trial_type": "bubbles", "item_3": "", "choice": "b", "correct": "true"},
        re.escape("one item (label) or three (match) on Bubbles trials"),
    ),
]


@pytest.mark.parametrize(("row", "match"), BAD_ROWS)
def test_rejects_rows_that_break_the_export_rules(row, match):
    with pytest.raises(ValueError, match=match):
        read_responses(frame({}, row))


def test_rejects_duplicates_missing_columns_and_mixed_status():
    rows = frame({}, {})
    rows["trial_index"] = "0"
    with pytest.raises(ValueError, match="one row per"):
        read_responses(rows)
    with pytest.raises(ValueError, match="missing \\['choice'\\]"):
        read_responses(frame({}).drop(columns="choice"))
    with pytest.raises(ValueError, match="one participant_status per participant"):
        read_responses(frame({}, {"participant_status": "excluded"}))
    with pytest.raises(ValueError, match="'study' parameter"):
        read_responses(frame({}), study="other")
    with pytest.raises(ValueError, match="an existing CSV file"):
        read_responses("/no/such/file.csv")


@pytest.mark.parametrize(("row", "match"), BAD_ROWS)
def test_lenient_reading_drops_and_lists_a_bad_row(row, match):
    source = frame({}, {"choice": "a"}, row, {"choice": "b"})
    kept, dropped = read_responses_dropping_bad_rows(source)
    assert kept["trial_index"].tolist() == [0, 1, 3]
    assert dropped.columns.tolist() == ["row", "study", "participant", "trial_index", "reasons"]
    assert dropped["row"].tolist() == [2]
    assert dropped[["participant", "trial_index"]].values.tolist() == [
        ["P1", row.get("trial_index", "2")]
    ]
    assert re.search(match, dropped["reasons"].iloc[0])
    pd.testing.assert_frame_equal(kept, read_responses(source.drop(index=2)))


def test_lenient_reading_lists_every_broken_rule_of_a_row():
    _, dropped = read_responses_dropping_bad_rows(
        frame({}, {"rt_ms": "-1", "responded_at": "0001-12-31T23:00:00TBCZ", "choice": "zz"})
    )
    assert dropped["reasons"].iloc[0].split("; ") == [
        "responded_at as ISO 8601 times",
        "the choice of a triplet to be one of its items",
        "non-negative, finite rt_ms",
    ]


def test_lenient_reading_drops_every_row_a_rule_across_rows_involves():
    rows = frame(
        {},  # P1 trial 0, the original of the repeat below
        {"role": "repeat", "repeat_of": "0", "choice": "a"},
        {},  # P1 trial 2
        {"participant": "P2"},
        {"participant": "P2", "participant_status": "excluded"},
        {"participant": "P3"},
    )
    rows.loc[2, "trial_index"] = "0"  # duplicates trial 0 of P1: both go, then the repeat
    kept, dropped = read_responses_dropping_bad_rows(rows)
    assert kept["participant"].tolist() == ["P3"]
    assert dropped["row"].tolist() == [0, 1, 2, 3, 4]
    reasons = dict(zip(dropped["row"], dropped["reasons"], strict=True))
    assert reasons[0] == reasons[2] == "one row per (study, participant, trial_index)"
    assert reasons[1] == "repeat_of naming a trial of the same participant"
    assert reasons[3] == reasons[4] == "one participant_status per participant"


def test_lenient_reading_of_a_clean_export_drops_nothing(tmp_path):
    rows = frame({}, {"choice": "a"})
    path = tmp_path / "export.csv"
    rows.to_csv(path, index=False)
    kept, dropped = read_responses_dropping_bad_rows(path, study="s1")
    pd.testing.assert_frame_equal(kept, read_responses(path))
    assert dropped.empty
    with pytest.raises(ValueError, match="missing \\['choice'\\]"):
        read_responses_dropping_bad_rows(rows.drop(columns="choice"))


def test_filters_one_study():
    rows = pd.concat([frame({}), frame({"study": "s2"})], ignore_index=True)
    assert read_responses(rows, study="s2")["study"].unique().tolist() == ["s2"]


def test_things_triplets_roundtrip(tmp_path):
    rows = read_responses(frame({"choice": "a"}, {"choice": "b"}))
    table, ids = choice_table(rows)
    path = tmp_path / "triplets.csv"
    write_things_triplets(table, ids, path)
    written = pd.read_csv(path)
    assert list(written.columns) == ["i", "j", "odd"]
    assert written.values.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert pd.read_csv(tmp_path / "triplets_stimuli.csv")["stimulus"].tolist() == ["a", "b", "c"]


def example_matrices():
    rng = np.random.default_rng(0)
    values = rng.random(10)
    values[3] = np.nan
    counts = np.where(np.isnan(values), 0, 2)
    human = SimilarityMatrix.from_vector(values, stimuli(5), counts=counts, name="human")
    model = SimilarityMatrix(vector_to_square(rng.random(10)), stimuli(5), name="m")
    return {"human": human, "net/fc": model}


def test_rsatoolbox_loads_our_pickle(tmp_path):
    mats = example_matrices()
    path = tmp_path / "rdms.pkl"
    write_rsatoolbox_pkl(path, mats, "mixed")
    rdms = rsatoolbox.rdm.load_rdm(str(path), file_type="pkl")
    assert rdms.n_rdm == 2
    assert rdms.n_cond == 5
    np.testing.assert_array_equal(rdms.dissimilarities[1], mats["net/fc"].upper())
    assert np.isnan(rdms.dissimilarities[0, 3])
    assert list(rdms.pattern_descriptors["stimulus"]) == stimuli(5)
    assert list(rdms.rdm_descriptors["name"]) == ["human", "net/fc"]


def test_npz_roundtrip_and_rsatoolbox_construction(tmp_path):
    mats = example_matrices()
    pm = ParticipantMatrices.from_dense(
        np.random.default_rng(1).random((3, 10)), ["a", "b", "c"], stimuli(5)
    )
    path = tmp_path / "m.npz"
    save_matrices_npz(path, mats, pm)
    back = load_matrices_npz(path)
    np.testing.assert_array_equal(back["human"].values, mats["human"].values)
    assert back["human"].n_missing_pairs == 1
    with np.load(path) as f:
        rdms = rsatoolbox.rdm.RDMs(
            f["dissimilarities"],
            pattern_descriptors={"stimulus": list(f["stimuli"])},
            rdm_descriptors={"name": list(f["names"])},
        )
        np.testing.assert_allclose(f["participant_dissimilarities"], pm.vectors())
    np.testing.assert_array_equal(rdms.get_matrices()[1], mats["net/fc"].values)


def test_exports_refuse_mismatched_stimuli(tmp_path):
    mats = example_matrices()
    mats["other"] = mats["net/fc"].reorder(list(reversed(stimuli(5))))
    with pytest.raises(ValueError, match="same stimuli in the same order"):
        write_rsatoolbox_pkl(tmp_path / "x.pkl", mats)
