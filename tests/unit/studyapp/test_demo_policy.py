"""The simulated participants' answer rule used by the demo."""

import random

import numpy as np

from studyapp.services.demo import DEMO_GROUPS, odd_one_out_policy, truth_dissimilarity


def policy(noise=0.4):
    d = np.array([[0, 1, 4, 4], [1, 0, 4, 4], [4, 4, 0, 0.5], [4, 4, 0.5, 0]], float)
    return odd_one_out_policy([10, 11, 12, 13], d, noise)


def test_catch_trials_are_always_answered_correctly():
    answer, rng = policy(noise=5.0), random.Random(0)  # very noisy otherwise
    for items in ([12, 12, 13], [12, 13, 12], [13, 12, 12]):
        choices = {answer({"items": items}, None, rng)["choice"] for _ in range(200)}
        assert choices == {13}


def test_choices_follow_the_structure_with_noise():
    answer, rng = policy(), random.Random(1)
    choices = [answer({"items": [10, 11, 12]}, None, rng)["choice"] for _ in range(2000)]
    share = choices.count(12) / len(choices)
    assert 0.8 < share < 1.0  # mostly the far face, but not always


def test_the_demo_groups_differ_only_in_the_weight_of_the_faces_gender():
    stimuli = [
        (1, {"identity": "a", "gender": "female", "glasses": "no"}),
        (2, {"identity": "b", "gender": "female", "glasses": "no"}),
        (3, {"identity": "c", "gender": "male", "glasses": "no"}),
    ]
    young, older = (truth_dissimilarity(stimuli, weights=w) for w in DEMO_GROUPS.values())
    # same identities and offsets: only the cross-gender pairs move, by 4 - 1
    assert np.isclose(young[0, 1], older[0, 1])
    assert np.allclose(older[[0, 1], 2] - young[[0, 1], 2], 3.0)
