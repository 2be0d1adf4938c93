"""The weighted kernels equal the plain statistics on the expanded (resampled) vectors."""

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from rsatoolbox.rdm.compare import _tau_a as rsatoolbox_tau_a

from analysis.kernels import (
    LEVELS_TAU_MAX_LEVELS,
    SortedRows,
    correlate,
    dense_codes,
    rank_cross_sums,
    rank_half_integers,
    tau_a,
    tau_a_codes,
    tau_a_one_x,
    tau_a_rows,
    weighted_ranks,
)
from analysis.kernels.paired_pearson import paired_pearson
from analysis.kernels.pearson import paired_stat


def expand(values, weights):
    keep = weights > 0
    return np.repeat(values[keep], weights[keep].astype(int))


def reference_tau_a(x, y, w):
    """tau-a through scipy's public tau-b on the expanded vectors and the tie counts:
    tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)), so tau_a = tau_b sqrt(...) / n0."""
    xe, ye = expand(np.asarray(x, float), w), expand(np.asarray(y, float), w)
    n0 = len(xe) * (len(xe) - 1) / 2
    n1, n2 = (sum(c * (c - 1) / 2 for c in np.unique(v, return_counts=True)[1]) for v in (xe, ye))
    tau_b = scipy.stats.kendalltau(xe, ye, variant="b").statistic
    return tau_b * np.sqrt((n0 - n1) * (n0 - n2)) / n0


def reference(method, x, y):
    if method == "pearson":
        return scipy.stats.pearsonr(x, y).statistic
    if method == "spearman":
        return scipy.stats.spearmanr(x, y).statistic
    if method == "tau-a":
        return rsatoolbox_tau_a(x, y)
    rx, ry = scipy.stats.rankdata(x), scipy.stats.rankdata(y)
    n = len(x)
    return 12 * np.sum((rx - rx.mean()) * (ry - ry.mean())) / (n**3 - n)


vectors = st.integers(min_value=5, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
        st.lists(st.integers(0, 9), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(vectors)
def test_weighted_ranks_are_midranks_of_the_expanded_vector(data):
    x, _, w = (np.array(v, dtype=float) for v in data)
    if w.sum() == 0:
        w[0] = 1
    ranks = weighted_ranks(x, w)
    np.testing.assert_allclose(expand(ranks, w), scipy.stats.rankdata(expand(x, w)))


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # the reference's
@settings(max_examples=60, deadline=None)
@given(vectors, st.sampled_from(["pearson", "spearman", "rho-a", "tau-a"]))
def test_correlate_equals_statistic_of_expanded_vectors(data, method):
    x, y, w = (np.array(v, dtype=float) for v in data)
    xe, ye = expand(x, w), expand(y, w)
    ours = correlate(method, x, y, w)
    if len(xe) < 2:
        assert np.isnan(ours)
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = reference(method, xe, ye)
    if np.isnan(expected):  # a constant side: correlation undefined
        assert np.isnan(ours) or method in ("rho-a", "tau-a")
        return
    assert ours == pytest.approx(expected, abs=1e-12)


def test_sorted_rows_ranks_many_weight_rows_and_broadcasts_over_a_stack():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(3, 25)), 1)
    values[1, 4] = np.nan
    weights = rng.integers(0, 4, size=(7, 25)).astype(float)
    weights[:, 4] = 0.0
    ranks = SortedRows(values).ranks(weights)  # one weight row shared by the stack
    assert ranks.shape == (7, 3, 25)
    for b in range(7):
        for r in range(3):
            keep = weights[b] > 0
            expected = scipy.stats.rankdata(expand(values[r], weights[b]))
            np.testing.assert_allclose(expand(ranks[b, r], weights[b]), expected)
            assert keep.any()


def test_rank_half_integers_matches_scipy_with_ties():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 40, size=(6, 60)) / 2.0
    weights = rng.integers(0, 3, size=(6, 60)).astype(float)
    order, ranks = rank_half_integers(values, weights)
    for r in range(6):
        unsorted = np.empty(60)
        unsorted[order[r]] = ranks[r]
        expected = scipy.stats.rankdata(expand(values[r], weights[r]))
        np.testing.assert_allclose(expand(unsorted, weights[r]), expected)


@pytest.mark.parametrize("n_values", [8, 30, 10**6, 2**40])  # many ties ... none; 2**40: 64 bits
def test_rank_cross_sums_are_exact_weighted_sums(n_values):
    rng = np.random.default_rng(2)
    values2 = rng.integers(0, n_values, size=(5, 50))
    other2 = rng.integers(1, 80, size=(5, 50))
    weights = rng.integers(0, 4, size=(5, 50))
    sum_wry, sum_wr2 = rank_cross_sums(values2.copy(), weights, other2)
    for r in range(5):
        ranks = weighted_ranks(values2[r] / 2.0, weights[r])
        assert sum_wry[r] == np.sum(weights[r] * ranks * other2[r] / 2.0)
        assert sum_wr2[r] == np.sum(weights[r] * ranks * ranks)


@pytest.mark.parametrize("n_values", [8, 10**6])
def test_rank_cross_sums_with_unit_weights(n_values):
    rng = np.random.default_rng(3)
    values2 = rng.integers(0, n_values, size=(4, 60))
    other2 = rng.integers(1, 80, size=(4, 60))
    ones = np.ones((4, 60), dtype=np.int64)
    fast = rank_cross_sums(values2.copy(), ones, other2, unit=True)
    general = rank_cross_sums(values2.copy(), ones, other2)
    np.testing.assert_array_equal(fast[0], general[0])
    np.testing.assert_array_equal(fast[1], general[1])


def test_rank_cross_sums_declines_numbers_that_do_not_fit_64_bits():
    values2 = np.full((1, 4), 2**50)
    assert rank_cross_sums(values2, np.full((1, 4), 2**10), np.full((1, 4), 2**12)) is None


# (pairs, distinct values of x, of y): each of tau_a_rows' two algorithms, with ties
TAU_CASES = {
    "levels, few y values": (500, 2000, 7),
    "levels, few x values (sides swapped)": (500, 3, 10**6),
    "levels, binary y": (900, 40, 2),
    "merge count per row, 400 pairs": (400, 10**6, 10**6),
    "merge count per row": (410, 10**6, 10**6),
}


@pytest.mark.parametrize("case", TAU_CASES)
def test_tau_a_rows_equals_rsatoolbox_on_the_expanded_vectors(case):
    n_pairs, x_values, y_values = TAU_CASES[case]
    rng = np.random.default_rng(3)
    x = rng.integers(0, x_values, size=(5, n_pairs)).astype(float)
    y = rng.integers(0, y_values, size=(5, n_pairs)).astype(float)
    w = rng.integers(0, 4, size=(5, n_pairs)).astype(float)
    w[0] = 1.0  # plain tau-a
    w[1, :2], w[1, 2:] = (1.0, 2.0), 0.0  # two entries left, three after expanding
    w[2, 0], w[2, 1:] = 1.0, 0.0  # one entry left: undefined
    ours = tau_a_rows(x, y, w)
    assert np.isnan(ours[2])
    for r in (0, 1, 3, 4):
        expected = rsatoolbox_tau_a(expand(x[r], w[r]), expand(y[r], w[r]))
        assert ours[r] == pytest.approx(expected, abs=1e-12), r
        assert tau_a(x[r], y[r], w[r]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("case", TAU_CASES)
def test_tau_a_rows_on_codes_of_whole_rows_are_the_same_floats(case):
    """y's codes taken once on whole rows (`CellEngine`: a participant's data) and gathered,
    instead of coded per subset of entries with weight: bit for bit, rows of a stack whose
    models (leading axis) share the data and rows that keep one level or a few entries."""
    n_pairs, x_values, y_values = TAU_CASES[case]
    rng = np.random.default_rng(5)
    x = rng.integers(0, x_values, size=(3, 6, n_pairs)).astype(float)
    y = rng.integers(0, y_values, size=(6, n_pairs)).astype(float)
    w = rng.integers(0, 4, size=(6, n_pairs)).astype(float)
    w[:, rng.random(n_pairs) < 0.5] = 0.0  # most subsets miss some of y's values
    w[1, 3:] = 0.0
    w[2, y[2] != y[2, 0]] = 0.0  # one level of y left
    codes = dense_codes(y, np.ones(y.shape, dtype=bool))
    np.testing.assert_array_equal(tau_a_rows(x, y, w, codes), tau_a_rows(x, y, w))


def test_tau_a_rows_uses_the_levels_algorithm_when_one_side_has_few_values(monkeypatch):
    """The rows of a bootstrap (participant judgments vs anything) never reach scipy."""
    import analysis.kernels as weighted

    def no_scipy(*args):
        raise AssertionError("per-row scipy path used")

    monkeypatch.setattr(weighted, "tau_a", no_scipy)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 800))
    y = rng.integers(0, LEVELS_TAU_MAX_LEVELS, size=x.shape).astype(float)
    ours = tau_a_rows(x, y, np.ones_like(x))
    assert ours == pytest.approx([rsatoolbox_tau_a(x[r], y[r]) for r in range(3)], abs=1e-12)


def test_tau_a_codes_with_keys_wider_than_64_bits_and_tied_codes():
    """x codes too large to pack with y and w are re-coded first; ties in x and y count."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(4, 300)) * 2**58  # 4 tied groups, 61-bit codes
    y = rng.integers(0, 5, size=(4, 300))
    w = rng.integers(0, 50, size=(4, 300))
    ours = tau_a_codes(x, y, w, n_levels=5)
    for r in range(4):
        expected = rsatoolbox_tau_a(expand(x[r] / 2**58, w[r]), expand(y[r], w[r]))
        assert ours[r] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("n_levels", "max_weight"),
    [(2, 3), (7, 3), (7, 40), (7, 5000), (20, 9), (64, 2), (64, 70000)],
)
def test_tau_a_codes_packed_running_weights_in_every_layout(n_levels, max_weight):
    """The level counts are packed several to a word in segments that restart; few or many
    levels, light or heavy weights (one word, several words, one entry per segment), rows
    with a single weighted entry, all agree with rsatoolbox on the expanded vectors."""
    rng = np.random.default_rng(n_levels + max_weight)
    x = rng.permuted(np.tile(np.arange(700), (5, 1)), axis=1)
    y = rng.integers(0, n_levels, size=x.shape)
    w = rng.integers(0, max_weight + 1, size=x.shape) * (rng.random(x.shape) < 0.7)
    w[4] = 0
    w[4, 3] = 1  # one entry: undefined
    ours = tau_a_codes(x, y, w, n_levels)
    for r in range(4):
        if max_weight > 100:  # the expanded vector would be too long: scipy on fewer rows
            expected = reference_tau_a(x[r], y[r], w[r])
        else:
            expected = rsatoolbox_tau_a(expand(x[r], w[r]), expand(y[r], w[r]))
        assert ours[r] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(ours[4])


def test_tau_a_codes_broadcasts_shared_rows_without_expanding_them():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 50, size=(2, 1, 300))  # one x per model, shared by 3 rows of y
    y = rng.integers(0, 7, size=(1, 3, 300))
    w = rng.integers(0, 4, size=300)
    ours = tau_a_codes(x, y, w, n_levels=7)
    assert ours.shape == (2, 3)
    for m, r in np.ndindex(2, 3):
        assert ours[m, r] == pytest.approx(reference_tau_a(x[m, 0], y[0, r], w), abs=1e-12)


@pytest.mark.parametrize("ties", ["none", "few", "many"])
def test_tau_a_one_x_equals_tau_a_for_every_row(ties):
    """One sort of x serves every row of y; pairs tied in x are taken out explicitly, and
    with more tied pairs than entries the general kernel does the work."""
    rng = np.random.default_rng(len(ties))
    n = 500
    x = rng.permutation(n)
    if ties == "few":
        x[rng.choice(n, 30, replace=False)] = x[rng.choice(n, 30)]  # pairs and triples
    elif ties == "many":
        x = rng.integers(0, 5, size=n)
    y = rng.integers(0, 7, size=(6, n))
    w = rng.integers(0, 4, size=n)
    ours = tau_a_one_x(x, w, np.ascontiguousarray(y.T, dtype=np.int8), n_levels=7)
    expected = [reference_tau_a(x, y[r], w) for r in range(6)]
    assert ours == pytest.approx(expected, abs=1e-12)


def test_dense_codes_follow_the_values_and_give_left_out_entries_code_zero():
    values = np.array([[2.5, np.nan, -1.0, 2.5, 7.0], [np.nan, np.nan, 1.0, 1.0, 0.5]])
    codes, levels = dense_codes(values, ~np.isnan(values))
    assert codes.tolist() == [[1, 0, 0, 1, 2], [0, 0, 1, 1, 0]]
    assert levels.tolist() == [3, 2]


def test_tau_a_rejects_fractional_weights():
    with pytest.raises(ValueError, match="'w' parameter of tau_a"):
        tau_a(np.arange(3.0), np.arange(3.0), np.array([0.5, 1, 1]))


def test_tau_a_is_zero_when_one_side_is_constant():
    assert tau_a(np.ones(5), np.arange(5.0)) == 0.0


def test_compiled_paired_pearson_equals_paired_stat_to_rounding():
    """Rows with integer weights and zeros, one weighted entry only (NaN), no variance (NaN),
    values under zero weights that must not count (NaN and inf)."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 3, 6, 40))
    w = rng.integers(0, 3, size=(2, 3, 6, 40)).astype(float)[0]
    w[0, 1] = 0.0
    w[0, 2, 1:] = 0.0
    w[0, 2, 0] = 1.0
    y[1, 3] = 2.5
    x[2, 4, w[2, 4] == 0] = np.nan
    y[2, 5, w[2, 5] == 0] = np.inf
    expected = paired_stat("pearson", np.where(w > 0, x, 0.0), np.where(w > 0, y, 0.0), w)
    got = paired_pearson(x, y, w)
    assert np.isnan(expected).sum() == 3
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(paired_pearson(x, y[:1], w), paired_pearson(x, y[[0, 0, 0]], w))
