"""Participant groups: group matrices by hand, the permutation test against exact
enumeration, a planted group difference recovered and a null one rejected at the nominal
rate, small groups reported, bad input refused."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from analysis.compare import compare, evaluate, participant_evaluations
from analysis.human.choices import choice_matrices
from analysis.human.ratings import rating_matrices
from analysis.io import read_responses
from analysis.matrices import SimilarityMatrix, vector_to_square
from analysis.participant_groups import (
    NO_VALUE,
    group_difference_test,
    participant_group_analysis,
)
from analysis.simulate import Design, random_dissimilarity, simulate_groups
from analysis.study_analysis import AnalysisParameters, analyse_study
from tests.unit.analysis.helpers import dense_data, human_from, models_from

# (participant, i, j, odd) over stimuli a, b, c, d: i and j kept together, odd the odd one
TRIPLETS = [
    ("p1", 0, 1, 2),
    ("p1", 0, 2, 3),
    ("p2", 0, 1, 3),
    ("p3", 0, 2, 1),
    ("p3", 1, 3, 0),
    ("p4", 0, 1, 2),
    ("p5", 2, 3, 0),
]
ATTRIBUTES = pd.DataFrame(
    {"participant": ["p1", "p2", "p3", "p4", "p5"], "group": ["X", "X", "Y", "Y", ""]}
)


def hand_human():
    table = pd.DataFrame(TRIPLETS, columns=["participant", "i", "j", "odd"])
    return choice_matrices(table.assign(trial_type="triplet"), list("abcd"))


def test_group_matrices_match_a_hand_computation():
    groups = participant_group_analysis(
        hand_human(), ATTRIBUTES, "group", n_splits=4, random_state=0
    )
    nan = np.nan
    # pairs ab ac ad bc bd cd: 1 - (times kept together / times offered) within the group
    expected = {
        "X": ([0, 1 / 2, 1, 1, 1, 1], [2, 2, 2, 1, 1, 1]),
        "Y": ([2 / 3, 1 / 2, 1, 1, 0, nan], [3, 2, 1, 2, 1, 0]),
    }
    assert list(groups.matrices) == ["X", "Y"]
    for name, (values, counts) in expected.items():
        matrix = groups.matrices[name]
        assert matrix.stimuli == tuple("abcd")
        np.testing.assert_allclose(matrix.upper(), values)
        np.testing.assert_array_equal(matrix.upper_counts(), counts)
    rows = groups.reliability.set_index("group")
    assert rows.loc["X", "n_participants"] == 2
    assert rows.loc["Y", "n_participants"] == 2
    assert rows.loc[NO_VALUE, "n_participants"] == 1  # p5 answered "" -> no group
    assert groups.comparison is None
    assert groups.differences is None


def test_a_group_too_small_for_a_split_half_is_reported_not_crashed():
    data, models = dense_data(1, n=7, n_participants=5)
    human = human_from(data)
    attributes = pd.DataFrame({"participant": human.participants, "site": list("AAAAB")})
    groups = participant_group_analysis(
        human, attributes, "site", models_from(models), n_boot=10, n_splits=4, random_state=0
    )
    rows = groups.reliability.set_index("group")
    assert "too few for a split-half" in rows.loc["B", "note"]
    assert np.isnan(rows.loc["B", "reliability_mean"])
    assert np.isfinite(rows.loc["A", "reliability_mean"])
    assert set(groups.comparison["group"]) == {"A"}
    assert groups.differences is None  # one comparable group: nothing to compare


def test_permutation_test_equals_exact_enumeration_of_all_labellings():
    data, models = dense_data(4, n=7, n_participants=6, n_models=2)
    human, matrices = human_from(data), models_from(models)
    attributes = pd.DataFrame({"participant": human.participants, "g": list("AABBAB")})
    groups = participant_group_analysis(
        human, attributes, "g", matrices, n_boot=20, n_permutations=1000, random_state=0
    )
    # by hand: each participant's Spearman with each model, every 3-of-6 labelling
    per = np.array(
        [
            [
                compare(m, SimilarityMatrix(vector_to_square(v), human.stimuli), "spearman")
                for m in matrices.values()
            ]
            for v in data
        ]
    )
    in_a = np.array([g == "A" for g in "AABBAB"])
    observed = per[in_a].mean(0) - per[~in_a].mean(0)
    null = np.array(
        [
            per[list(a)].mean(0) - per[[k for k in range(6) if k not in a]].mean(0)
            for a in combinations(range(6), 3)
        ]
    )
    p_exact = (np.abs(null) >= np.abs(observed) - 1e-12).mean(0)
    table = groups.differences
    assert table["exact"].all()
    assert (table["n_relabellings"] == 20).all()
    np.testing.assert_allclose(table["difference"], observed)
    np.testing.assert_allclose(table["p_permutation"], p_exact)
    # a group's evaluation is rsatoolbox's mean over its participants
    group_a = evaluate(
        matrices,
        human.subset([p for p, g in zip(human.participants, "AABBAB", strict=True) if g == "A"]),
    )
    np.testing.assert_allclose(table["evaluation_a"], group_a["evaluation"])
    assert (
        (table["ci_low"] <= table["difference"]) & (table["difference"] <= table["ci_high"])
    ).all()


def test_random_relabellings_when_enumeration_is_too_large():
    values = np.arange(12.0)[:, None]
    in_a = np.arange(12) < 6
    diff, p, n, exact = group_difference_test(values, in_a, n_permutations=99, random_state=0)
    assert not exact
    assert n == 99
    assert diff[0] == -6.0
    assert p[0] == pytest.approx(1 / 100)  # no relabelling is as extreme as the sorted split
    with pytest.raises(ValueError, match="'in_a' parameter"):
        group_difference_test(values, np.ones(12, dtype=bool))


def _two_group_ratings(truths, seed):
    design = Design(trial_type="rating", n_participants=8, n_trials=120, noise=0.8)
    rows, attributes = simulate_groups(truths, design, random_state=seed)
    return rating_matrices(read_responses(rows)), attributes


def test_null_group_difference_is_rejected_at_about_the_nominal_rate():
    truth = random_dissimilarity(12, n_dims=3, random_state=0)
    p_values = []
    for seed in range(40):
        human, attributes = _two_group_ratings({"A": truth, "B": truth}, seed)
        values = participant_evaluations({"truth": truth}, human, "spearman")
        in_a = attributes.set_index("participant").loc[list(human.participants), "group"] == "A"
        _, p, _, _ = group_difference_test(
            values.to_numpy(), in_a.to_numpy(), n_permutations=499, random_state=seed
        )
        p_values.append(p[0])
    p_values = np.array(p_values)
    # 40 seeded null studies: 2 expected below 0.05; P(>= 6) is 1.4 % under a valid test
    assert (p_values < 0.05).sum() <= 5
    assert 0.35 < p_values.mean() < 0.65


def test_planted_group_difference_is_recovered_through_analyse_study():
    truth = random_dissimilarity(14, n_dims=3, random_state=0)
    other = random_dissimilarity(14, n_dims=3, random_state=1)
    design = Design(trial_type="triplet", n_participants=8, n_trials=200, repeat_fraction=0.0)
    rows, attributes = simulate_groups({"A": truth, "B": other}, design, random_state=3)
    params = AnalysisParameters(
        methods=("spearman",),
        n_boot=50,
        n_permutations=199,
        n_splits=10,
        participant_groups=("group",),
    )
    analysis = analyse_study(
        read_responses(rows),
        {"truth/x": truth, "other/x": other},
        parameters=params,
        participant_attributes=attributes,
    )
    (groups,) = analysis.participant_groups
    table = groups.differences.set_index("model")
    assert (table["p_fdr"] < 0.05).all()
    assert table.loc["truth", "difference"] > 0
    assert table.loc["truth", "ci_low"] > 0
    assert table.loc["other", "difference"] < 0
    assert table.loc["other", "ci_high"] < 0
    assert set(groups.comparison["group"]) == {"A", "B"}
    assert (groups.comparison["p_zero_fdr"] >= groups.comparison["p_zero"]).all()
    truth_a = groups.comparison.query("group == 'A' and model == 'truth'")
    assert truth_a["p_zero_fdr"].item() < 0.05
    assert (groups.reliability["reliability_mean"] > 0.5).all()


def test_group_analyses_refuse_bad_input():
    with pytest.raises(ValueError, match="'participant_groups' parameter"):
        AnalysisParameters(participant_groups=("a", "a"))
    with pytest.raises(ValueError, match="'stimulus_groups' parameter"):
        AnalysisParameters(stimulus_groups="gender")
    human = hand_human()
    with pytest.raises(ValueError, match="'table' parameter of group_labels"):
        participant_group_analysis(human, ATTRIBUTES, "age")
    twice = pd.concat([ATTRIBUTES, ATTRIBUTES.head(1)])
    with pytest.raises(ValueError, match="one row per participant"):
        participant_group_analysis(human, twice, "group")
    nobody = ATTRIBUTES.assign(group="")
    with pytest.raises(ValueError, match="a value of 'group'"):
        participant_group_analysis(human, nobody, "group")


def test_simulated_groups_keep_names_that_contain_a_dash():
    truth = random_dissimilarity(6, n_dims=2, random_state=0)
    design = Design(trial_type="triplet", n_participants=2, n_trials=10, repeat_fraction=0.0)
    rows, attributes = simulate_groups({"18-30": truth, "31-60": truth}, design, random_state=0)
    assert sorted(attributes["group"].unique()) == ["18-30", "31-60"]
    assert len(attributes) == 4
    assert set(attributes["participant"]) == set(rows["participant"])
