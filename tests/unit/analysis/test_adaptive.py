"""Adaptive triplet selection: ensemble fit, information gain, constrained seeded selection."""

import numpy as np
import pytest

from analysis.human.adaptive import (
    EmbeddingEnsemble,
    answers_table,
    expected_information_gain,
    fit_ensemble,
    select_triplets,
)
from analysis.human.choices import choice_table
from analysis.human.embedding import odd_one_probabilities
from analysis.simulate import random_dissimilarity, simulate_triplet_codes


@pytest.fixture(scope="module")
def answered():
    truth = random_dissimilarity(18, n_dims=2, random_state=3)
    table, ids = choice_table(simulate_triplet_codes(truth, 600, 10, random_state=4))
    return table, ids


def test_odd_one_probabilities_follow_the_embedding():
    x = np.array([[0.0], [0.1], [5.0]])
    p = odd_one_probabilities("tste", x, np.array([[0, 1, 2], [2, 0, 1]]))
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[0].argmax() == 2  # the far one is odd, in either position
    assert p[0, 2] > 0.9
    assert p[1].argmax() == 0
    assert p[1, 0] == pytest.approx(p[0, 2])


def test_answers_table_keeps_the_two_other_items_and_refuses_a_foreign_odd_one():
    table = answers_table(np.array([[4, 1, 7], [2, 3, 5]]), np.array([1, 5]))
    assert table.to_dict("list") == {"i": [4, 2], "j": [7, 3], "odd": [1, 5]}
    with pytest.raises(ValueError, match="'odd' parameter of answers_table"):
        answers_table(np.array([[4, 1, 7]]), np.array([9]))


def test_same_seed_gives_the_same_state_and_the_same_triplets(answered):
    table, ids = answered
    first, second = (fit_ensemble(table, ids, 2, n_members=3, random_state=7) for _ in range(2))
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    assert first.seeds == second.seeds
    assert first.n_trials == len(table)
    assert not np.allclose(first.embeddings[0], first.embeddings[1])  # bootstrap members differ
    picks = [select_triplets(first, n_sets=3, set_size=8, random_state=11) for _ in range(2)]
    assert picks[0] == picks[1]
    assert select_triplets(first, n_sets=3, set_size=8, random_state=12) != picks[0]


def hand_ensemble() -> EmbeddingEnsemble:
    """Members agree on triplet (0, 1, 2) (2 is odd) and disagree on (3, 4, 5)."""
    agree = [0.0, 0.1, 5.0]
    member_a = np.array([[*agree, 0.0, 0.1, 5.0]]).T  # (3, 4, 5): 5 is odd
    member_b = np.array([[*agree, 5.0, 0.0, 0.1]]).T  # (3, 4, 5): 3 is odd
    return EmbeddingEnsemble("tste", np.stack([member_a, member_b]), tuple("abcdef"), (1, 2), 0)


def test_information_gain_is_high_where_members_disagree_and_zero_where_certain():
    gain = expected_information_gain(hand_ensemble(), np.array([[0, 1, 2], [3, 4, 5]]))
    assert gain[0] == pytest.approx(0.0, abs=1e-3)
    assert gain[1] > 0.5  # nats; at most log 2 for two confident members
    assert gain[1] <= np.log(2) + 1e-9


def test_selector_prefers_the_informative_triplet_over_the_certain_one():
    ensemble = hand_ensemble()
    for seed in range(5):
        for candidates in ([[0, 1, 2], [3, 4, 5]], [[5, 3, 4], [2, 1, 0]]):
            (only,) = select_triplets(
                ensemble,
                n_sets=1,
                set_size=1,
                item_uses=np.ones(6),
                candidates=np.array(candidates),
                random_state=seed,
            )
            assert only == [(3, 4, 5)]


def test_pool_keeps_the_platform_rules(answered):
    table, ids = answered
    ensemble = fit_ensemble(table, ids, 2, n_members=3, random_state=1)
    uses = np.bincount(table[["i", "j", "odd"]].to_numpy(int).ravel(), minlength=len(ids)).astype(
        float
    )
    uses[[2, 9]] = 0  # two stimuli never shown yet
    pool = select_triplets(ensemble, n_sets=4, set_size=10, item_uses=uses, random_state=5)
    assert [len(s) for s in pool] == [10] * 4
    flat = [t for s in pool for t in s]
    assert len(set(flat)) == len(flat)  # no set twice in the pool, so never for a participant
    assert all(len(set(t)) == 3 and list(t) == sorted(t) for t in flat)
    counts = np.bincount(np.ravel(flat), minlength=len(ids))
    assert counts[[2, 9]].min() >= 1  # stimuli never shown are put in
    assert counts.max() <= np.ceil(2.0 * 3 * 40 / len(ids))  # the item cap
    gain = expected_information_gain(ensemble, np.array(flat))
    everything = np.array([(a, b, c) for a in range(18) for b in range(a + 1, 18)
                           for c in range(b + 1, 18)])  # fmt: skip
    assert gain.mean() > expected_information_gain(ensemble, everything).mean()


def test_bad_arguments_get_clear_errors(answered):
    table, ids = answered
    ensemble = fit_ensemble(table, ids, 2, n_members=2, random_state=1)
    with pytest.raises(ValueError, match="'n_members' parameter of fit_ensemble"):
        fit_ensemble(table, ids, 2, n_members=1)
    with pytest.raises(ValueError, match="'item_uses' parameter of select_triplets"):
        select_triplets(ensemble, n_sets=1, set_size=2, item_uses=np.ones(3))
    with pytest.raises(ValueError, match="'n_sets' parameter of select_triplets"):
        select_triplets(ensemble, n_sets=100, set_size=100, candidates_per_stimulus=1)
    with pytest.raises(ValueError, match="'candidates' parameter of select_triplets"):
        select_triplets(ensemble, n_sets=1, set_size=1, candidates=np.array([[0, 0, 1]]))
