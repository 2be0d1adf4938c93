"""Human matrices from triplet, 2AFC and rating trials, checked by hand on small data."""

import numpy as np
import pandas as pd
import pytest

from analysis.compare import compare
from analysis.human.choices import choice_matrices, choice_similarity, choice_table, pair_index
from analysis.human.ratings import rating_matrices
from analysis.matrices import upper_indices


def choices(rows):
    """Minimal export-like frame: (participant, type, item_1, item_2, item_3, choice)."""
    return pd.DataFrame(
        [
            {
                "participant": p,
                "trial_type": t,
                "role": "main",
                "trial_index": k,
                "item_1": a,
                "item_2": b,
                "item_3": c,
                "choice": ch,
            }
            for k, (p, t, a, b, c, ch) in enumerate(rows)
        ]
    )


def test_pair_index_matches_upper_triangle_order():
    rows, cols = upper_indices(6)
    np.testing.assert_array_equal(pair_index(rows, cols, 6), np.arange(15))
    np.testing.assert_array_equal(pair_index(cols, rows, 6), np.arange(15))


def test_triplet_and_afc_coding_and_counts_by_hand():
    rows = choices(
        [
            ("p1", "triplet", "a", "b", "c", "c"),  # (a, b) kept
            ("p1", "triplet", "a", "b", "c", "a"),  # (b, c) kept
            ("p2", "triplet", "a", "b", "d", "d"),  # (a, b) kept
            ("p2", "afc", "a", "c", "d", "c"),  # reference a: (a, c) chosen over (a, d)
        ]
    )
    table, ids = choice_table(rows)
    assert ids == ["a", "b", "c", "d"]
    assert table[["i", "j", "odd"]].values.tolist() == [[0, 1, 2], [1, 2, 0], [0, 1, 3], [0, 2, 3]]
    group = choice_similarity(table, ids)
    v = dict(zip(["ab", "ac", "ad", "bc", "bd", "cd"], group.upper(), strict=True))
    n = dict(zip(["ab", "ac", "ad", "bc", "bd", "cd"], group.upper_counts(), strict=True))
    assert (v["ab"], n["ab"]) == (pytest.approx(2 / 3), 3)
    assert (v["ac"], n["ac"]) == (pytest.approx(1 / 3), 3)  # two triplets + the 2AFC win
    assert (v["ad"], n["ad"]) == (0.0, 2)  # one triplet + the 2AFC loss
    assert (v["bc"], n["bc"]) == (pytest.approx(1 / 2), 2)
    assert (v["bd"], n["bd"]) == (0.0, 1)
    assert np.isnan(v["cd"])
    assert n["cd"] == 0
    per = choice_matrices(table, ids)
    np.testing.assert_allclose(per.group().values, group.values, equal_nan=True)
    assert per.participants == ("p1", "p2")
    np.testing.assert_allclose(per.vectors()[0], [0.5, 0.0, np.nan, 0.5, np.nan, np.nan])


def test_choice_table_rejects_repeated_items_and_unknown_stimuli():
    with pytest.raises(ValueError, match="three different stimuli"):
        choice_table(choices([("p", "triplet", "a", "a", "b", "b")]))
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        choice_table(choices([("p", "triplet", "a", "b", "c", "a")]), stimuli=["a", "b"])


def test_choice_table_uses_only_requested_roles():
    rows = choices([("p", "triplet", "a", "b", "c", "a"), ("p", "triplet", "a", "b", "c", "c")])
    rows.loc[1, "role"] = "catch"
    table, _ = choice_table(rows)
    assert len(table) == 1
    table, _ = choice_table(rows, roles=("main", "catch"))
    assert len(table) == 2


def ratings(rows, scale=(1, 7)):
    return pd.DataFrame(
        [
            {
                "participant": p,
                "trial_type": "rating",
                "role": "main",
                "trial_index": k,
                "item_1": a,
                "item_2": b,
                "item_3": "",
                "rating": r,
                "rating_min": scale[0],
                "rating_max": scale[1],
            }
            for k, (p, a, b, r) in enumerate(rows)
        ]
    )


def test_ratings_are_z_scored_per_participant_and_negated():
    rows = ratings(
        [
            ("p1", "a", "b", 7),
            ("p1", "a", "c", 1),
            ("p1", "b", "c", 4),
            ("p2", "a", "b", 60),
            ("p2", "b", "c", 40),
            ("p2", "b", "c", 50),
        ]
    )
    pm = rating_matrices(rows)
    z1 = (np.array([7, 1, 4]) - 4) / np.std([7, 1, 4])
    r2 = np.array([60, 40, 50])
    z2 = (r2 - r2.mean()) / r2.std()
    np.testing.assert_allclose(pm.vectors()[0], -z1)
    # p2 rated (b, c) twice: the mean; never rated (a, c)
    np.testing.assert_allclose(pm.vectors()[1], [-z2[0], np.nan, -(z2[1] + z2[2]) / 2])
    group = pm.group()
    np.testing.assert_allclose(
        group.upper(), [(-z1[0] - z2[0]) / 2, -z1[1], (-z1[2] - (z2[1] + z2[2]) / 2) / 2]
    )
    np.testing.assert_array_equal(group.upper_counts(), [2, 1, 3])
    flipped = rating_matrices(rows, higher_is_similar=False)
    np.testing.assert_allclose(flipped.vectors()[0], z1)


def test_constant_ratings_are_an_error_naming_the_participant():
    rows = ratings(
        [("p1", "a", "b", 4), ("p1", "a", "c", 4), ("p2", "a", "b", 1), ("p2", "b", "c", 2)]
    )
    with pytest.raises(ValueError, match="constant ratings from \\['p1'\\]"):
        rating_matrices(rows)


def test_simulated_studies_recover_the_truth(study_responses, truth):
    for kind, rows in study_responses.items():
        if kind == "rating":
            pm = rating_matrices(rows)
        else:
            table, ids = choice_table(rows)
            pm = choice_matrices(table, ids)
        assert pm.stimuli == truth.stimuli
        assert compare(pm.group(), truth, "spearman") > 0.8, kind
