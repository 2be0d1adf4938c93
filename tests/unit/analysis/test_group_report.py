"""The report's group sections: present, with the numbers of the analysis, and exported."""

import json

import pandas as pd
import pytest

from analysis.report import write_report
from analysis.study_analysis import AnalysisParameters, analyse_study
from tests.unit.analysis.test_recovery import ranked_models

PARAMS = AnalysisParameters(
    methods=("spearman",),
    n_boot=30,
    n_permutations=99,
    n_splits=10,
    random_state=2,
    participant_groups=("group", "hand"),
    stimulus_groups=("gender",),
)


def group_inputs(truth):
    people = [f"P{k:03d}" for k in range(10)]
    attributes = pd.DataFrame(
        {"participant": people, "group": list("AAAAABBBBA"), "hand": ["left"] + ["right"] * 9}
    )
    labels = pd.DataFrame({"stimulus": truth.stimuli, "gender": ["f", "m"] * 7})
    predictions = pd.DataFrame(
        {
            "model": ["noise0.0"] * 14 + ["noise1.6"] * 14,
            "stimulus": list(truth.stimuli) * 2,
            "true": ["f", "m"] * 14,
            "predicted": ["f", "m"] * 7 + ["f"] * 14,
        }
    )
    return attributes, labels, predictions


@pytest.fixture(scope="module")
def group_report(study_responses, truth, tmp_path_factory):
    attributes, labels, predictions = group_inputs(truth)
    analysis = analyse_study(
        study_responses["triplet"],
        ranked_models(truth),
        parameters=PARAMS,
        participant_attributes=attributes,
        stimulus_labels=labels,
        predictions=predictions,
    )
    out = tmp_path_factory.mktemp("group_report")
    return analysis, write_report(analysis, out), out


def test_group_sections_show_the_numbers(group_report):
    analysis, files, out = group_report
    html = files.html.read_text()
    assert "<h2>Participant groups</h2>" in html
    assert "<h2>Bias across stimulus groups</h2>" in html
    assert "group: A (5), B (4) participants." in html  # P009 was excluded
    assert "too few for a split-half" in html  # the one left-hander
    assert '<img src="figures/participant_groups_0.png"' in html
    assert (out / "figures" / "participant_groups_0.png").stat().st_size > 0
    differences = analysis.participant_group_table("differences")
    assert set(differences["attribute"]) == {"group"}  # "hand" has one comparable group
    for value in differences["difference"]:
        assert f"<td>{value:.4g}</td>" in html
    worst = analysis.worst_group_accuracy.set_index("model")
    assert worst.loc["noise0.0", "worst_accuracy"] == 1.0
    assert worst.loc["noise1.6", "worst_group"] == "m"
    assert worst.loc["noise1.6", "worst_accuracy"] == 0.0
    for value in analysis.stimulus_contrast["difference"]:
        assert f"<td>{value:.4g}</td>" in html
    assert "(parameter participant_groups: group, hand)" in html  # methods text
    assert "(parameter stimulus_groups: gender)" in html


def test_group_tables_are_exported(group_report):
    analysis, _, out = group_report
    exported = {
        "participant_group_differences": analysis.participant_group_table("differences"),
        "participant_group_comparison": analysis.participant_group_table("comparison"),
        "participant_group_reliability": analysis.participant_group_table("reliability"),
        "participant_group_matrices_long": analysis.participant_group_matrices(),
        "stimulus_group_agreement": analysis.stimulus_agreement,
        "stimulus_group_contrast": analysis.stimulus_contrast,
        "stimulus_group_accuracy": analysis.group_accuracy,
        "worst_group_accuracy": analysis.worst_group_accuracy,
    }
    for stem, frame in exported.items():
        read = pd.read_csv(out / "tables" / f"{stem}.csv", keep_default_na=False, na_values=[""])
        assert len(read) == len(frame), stem
        numbers = frame.select_dtypes("number").columns
        pd.testing.assert_frame_equal(
            read[numbers], frame[numbers].reset_index(drop=True), check_dtype=False, atol=1e-12
        )
    matrices = exported["participant_group_matrices_long"]
    assert set(matrices["group"]) == {"A", "B", "left", "right"}
    results = json.loads((out / "results.json").read_text())
    assert results["parameters"]["participant_groups"] == ["group", "hand"]
    sizes = {
        (r["attribute"], r["group"]): r["n_participants"]
        for r in results["summary"]["participant_groups"]
    }
    assert sizes == {
        ("group", "A"): 5,
        ("group", "B"): 4,
        ("hand", "left"): 1,
        ("hand", "right"): 8,
    }
    assert len(results["summary"]["worst_group_accuracy"]) == 2
    assert len(results["tables"]["participant_group_differences"]) == len(
        exported["participant_group_differences"]
    )


def test_named_groups_need_their_table(study_responses):
    with pytest.raises(ValueError, match="'participant_attributes' parameter of analyse_study"):
        analyse_study(study_responses["rating"], parameters=PARAMS)
