"""The simulator produces valid exports with the requested design."""

import numpy as np
import pytest

from analysis.io import read_responses
from analysis.simulate import Design, random_dissimilarity, simulate_responses


@pytest.mark.parametrize("kind", ["triplet", "afc", "rating"])
def test_design_is_respected_and_the_export_validates(kind):
    truth = random_dissimilarity(8, random_state=0)
    design = Design(
        trial_type=kind,
        n_participants=3,
        n_trials=40,
        n_practice=2,
        catch_fraction=0.1,
        repeat_fraction=0.1,
    )
    rows = read_responses(simulate_responses(truth, design, random_state=1))
    per = rows.groupby("participant")["role"].value_counts().unstack()
    assert per.loc["P000"].to_dict() == {"catch": 4, "main": 40, "practice": 2, "repeat": 4}
    assert (rows.groupby("participant")["trial_index"].min() == 0).all()
    repeats = rows[rows["role"] == "repeat"]
    assert (repeats["trial_index"] > repeats["repeat_of"]).all()
    practice = rows[rows["role"] == "practice"]
    assert set(practice["trial_index"]) == {0, 1}
    catch = rows[rows["role"] == "catch"]
    assert (catch["item_1"] == catch["item_2"]).all()


def test_same_seed_same_responses():
    truth = random_dissimilarity(8, random_state=0)
    a = simulate_responses(truth, Design(n_participants=2, n_trials=20), random_state=3)
    b = simulate_responses(truth, Design(n_participants=2, n_trials=20), random_state=3)
    assert a.equals(b)
    np.testing.assert_array_equal(
        random_dissimilarity(5, random_state=1).values,
        random_dissimilarity(5, random_state=1).values,
    )


def test_design_validates():
    with pytest.raises(ValueError, match="'trial_type' parameter of Design"):
        Design(trial_type="sort")
    with pytest.raises(ValueError, match="'noise' parameter of Design"):
        Design(noise=0)
