"""`AnalysisParameters.from_dict`: the study's JSON settings, checked against the dataclass."""

import dataclasses
import json

import pytest

from analysis import AnalysisParameters, ExclusionRules


def test_from_dict_inverts_as_dict_through_json():
    changed = AnalysisParameters(
        methods=("pearson", "tau-a"),
        primary_method="pearson",
        n_boot=40,
        level=0.9,
        exclusions=ExclusionRules(trial_rt_bounds_ms=(None, 5000.0), min_catch_accuracy=None),
        embedding_dims=(2, 3),
        participant_groups=("age",),
    )
    for parameters in (AnalysisParameters(), changed):
        assert (
            AnalysisParameters.from_dict(json.loads(json.dumps(parameters.as_dict()))) == parameters
        )


def test_from_dict_knows_every_field_of_the_dataclass():
    """No hand-kept field list: a value for each field is taken (lists become tuples)."""
    data = AnalysisParameters(participant_groups=("age",), stimulus_groups=("gender",)).as_dict()
    parameters = AnalysisParameters.from_dict(data)
    assert {f.name for f in dataclasses.fields(AnalysisParameters)} == set(data)
    assert parameters.participant_groups == ("age",)
    assert parameters.stimulus_groups == ("gender",)
    assert parameters.methods == tuple(data["methods"])
    assert AnalysisParameters.from_dict({"level": 1 - 0.2}).level == pytest.approx(0.8)
    assert AnalysisParameters.from_dict({"embedding_penalty": 1}).embedding_penalty == 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nboot": 5}, r"Unknown keys \['nboot'\] for AnalysisParameters; known: .*'n_boot'"),
        ({"exclusions": {"max_fast": 0.1}}, r"Unknown keys \['max_fast'\] for ExclusionRules"),
        (
            {"n_boot": "40"},
            r"'n_boot' parameter of AnalysisParameters.from_dict must be of type int",
        ),
        ({"n_boot": 40.0}, "'n_boot' parameter"),
        ({"level": True}, "'level' parameter .* of type float; got True"),
        ({"methods": "spearman"}, r"'methods' parameter .* tuple\[str, \.\.\.\]; got 'spearman'"),
        ({"methods": ["spearman", 3]}, "'methods' parameter"),
        ({"higher_rating_is_similar": 1}, "'higher_rating_is_similar' parameter .* bool"),
        ({"exclusions": [0.8]}, "'exclusions' parameter .* JSON object of ExclusionRules"),
        ({"exclusions": {"trial_rt_bounds_ms": [1, 2, 3]}}, "'trial_rt_bounds_ms' parameter"),
        ({"exclusions": {"min_catch_accuracy": "0.8"}}, r"float \| None; got '0.8'"),
        ({"n_boot": 1}, "'n_boot' parameter of AnalysisParameters must be an integer >= 2"),
        ([], "'data' parameter of AnalysisParameters.from_dict must be a JSON object"),
    ],
)
def test_from_dict_refuses_unknown_keys_and_wrong_types_by_name(data, message):
    with pytest.raises(ValueError, match=message):
        AnalysisParameters.from_dict(data)


def test_exclusion_rules_from_dict_take_none_and_pairs():
    rules = ExclusionRules.from_dict(
        {"min_catch_accuracy": None, "trial_rt_bounds_ms": [100, None]}
    )
    assert rules.min_catch_accuracy is None
    assert rules.trial_rt_bounds_ms == (100.0, None)
    assert ExclusionRules.from_dict({"trial_rt_bounds_ms": None}).trial_rt_bounds_ms is None
