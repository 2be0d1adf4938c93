"""Adaptive triplet selection: answer entropy under a fitted state, constrained seeded selection."""

import numpy as np
import pytest

from analysis.human.adaptive import answer_entropy, answers_table, select_triplets
from analysis.human.choices import choice_table
from analysis.human.embedding import TripletEmbedding, fit_embedding, odd_one_probabilities
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
    first, second = (fit_embedding(table, ids, 2, model="tste", random_state=7) for _ in range(2))
    np.testing.assert_array_equal(first.embedding, second.embedding)
    picks = [select_triplets(first, n_sets=3, set_size=8, random_state=11) for _ in range(2)]
    assert picks[0] == picks[1]
    assert select_triplets(first, n_sets=3, set_size=8, random_state=12) != picks[0]


def hand_state() -> TripletEmbedding:
    """(0, 1, 2) has a clear odd one (2); (3, 4, 5) is an equilateral triangle."""
    x = np.array([[0.0, 0.0], [0.1, 0.0], [20.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.5, 0.75**0.5]])
    x[3:, 1] += 50.0
    return TripletEmbedding("tste", x, tuple("abcdef"), 0.01, None, 0, 1.0, True)


def test_answer_entropy_is_log_3_for_equal_pairs_and_low_for_a_clear_odd_one():
    entropy = answer_entropy(hand_state(), np.array([[0, 1, 2], [3, 4, 5], [5, 3, 4]]))
    assert entropy[0] < 0.1
    assert entropy[1] == pytest.approx(np.log(3))
    assert entropy[2] == pytest.approx(np.log(3))  # the order within a triplet does not matter


def test_selector_prefers_the_uncertain_triplet_over_the_certain_one():
    state = hand_state()
    for seed in range(5):
        for candidates in ([[0, 1, 2], [3, 4, 5]], [[5, 3, 4], [2, 1, 0]]):
            (only,) = select_triplets(
                state,
                n_sets=1,
                set_size=1,
                item_uses=np.ones(6),
                candidates=np.array(candidates),
                random_state=seed,
            )
            assert only == [(3, 4, 5)]


def test_pool_keeps_the_platform_rules(answered):
    table, ids = answered
    state = fit_embedding(table, ids, 2, model="tste", random_state=1)
    uses = np.bincount(table[["i", "j", "odd"]].to_numpy(int).ravel(), minlength=len(ids)).astype(
        float
    )
    uses[[2, 9]] = 0  # two stimuli never shown yet
    pool = select_triplets(state, n_sets=4, set_size=10, item_uses=uses, random_state=5)
    assert [len(s) for s in pool] == [10] * 4
    flat = [t for s in pool for t in s]
    assert len(set(flat)) == len(flat)  # no set twice in the pool, so never for a participant
    assert all(len(set(t)) == 3 and list(t) == sorted(t) for t in flat)
    counts = np.bincount(np.ravel(flat), minlength=len(ids))
    assert counts[[2, 9]].min() >= 1  # stimuli never shown are put in
    assert counts.max() <= np.ceil(2.0 * 3 * 40 / len(ids))  # the item cap
    entropy = answer_entropy(state, np.array(flat))
    everything = np.array([(a, b, c) for a in range(18) for b in range(a + 1, 18)
                           for c in range(b + 1, 18)])  # fmt: skip
    assert entropy.mean() > answer_entropy(state, everything).mean()


def test_bad_arguments_get_clear_errors(answered):
    table, ids = answered
    state = fit_embedding(table, ids, 2, model="tste", random_state=1)
    with pytest.raises(ValueError, match="'item_uses' parameter of select_triplets"):
        select_triplets(state, n_sets=1, set_size=2, item_uses=np.ones(3))
    with pytest.raises(ValueError, match="'n_sets' parameter of select_triplets"):
        select_triplets(state, n_sets=100, set_size=100, candidates_per_stimulus=1)
    with pytest.raises(ValueError, match="'candidates' parameter of select_triplets"):
        select_triplets(state, n_sets=1, set_size=1, candidates=np.array([[0, 0, 1]]))
