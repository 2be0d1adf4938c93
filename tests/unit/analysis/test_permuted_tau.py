"""The compiled tau-a of permuted matrices (`analysis.kernels.permuted_tau`) against the
definition, sign(x_k - x_l) sign(y_k - y_l) summed over all pairs of pairs."""

import numpy as np
import pytest

from analysis.kernels import tau_a_rows
from analysis.kernels.permuted_tau import PermutedTau
from analysis.matrices import upper_indices


def tau_a_by_definition(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2:
        return float("nan")
    k, m = np.triu_indices(len(x), 1)
    signs = np.sign(x[k] - x[m]) * np.sign(y[k] - y[m])
    return float(signs.sum() / len(k))


def symmetric_codes(rng, n: int, levels: int) -> np.ndarray:
    upper = np.triu(rng.integers(0, levels, (n, n)), 1)
    return upper + upper.T


@pytest.mark.parametrize("seed", range(6))
def test_every_permutation_is_tau_a_by_definition_with_ties_and_missing_pairs(seed):
    """Few and many levels on each side (ties in x, in y, in both), pairs y lacks (code -1),
    and matrices down to two stimuli (one pair: no tau-a)."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(2, 14))
        rows, cols = upper_indices(n)
        x = symmetric_codes(rng, n, int(rng.choice([1, 2, 3, 7, 40, 1000])))
        y = rng.integers(0, int(rng.choice([1, 2, 5, 1000])), rows.size)
        if rng.random() < 0.4:
            y[rng.random(rows.size) < 0.3] = -1
        perms = np.stack([rng.permutation(n) for _ in range(4)])
        got = PermutedTau(x, y, rows, cols).tau_a(perms)
        ok = y >= 0
        expected = [tau_a_by_definition(x[p[rows], p[cols]][ok], y[ok]) for p in perms]
        np.testing.assert_allclose(got, expected, atol=1e-15)


def test_a_large_matrix_is_the_merge_count_bit_for_bit():
    """At 19,900 pairs with about 5,000 values on each side (many tie groups, codes over
    13 bits: tries of 7 and 6 levels), the floats of the merge-count path (`tau_a_rows`)."""
    rng = np.random.default_rng(7)
    n = 200
    rows, cols = upper_indices(n)
    x = symmetric_codes(rng, n, 5_000)
    y = rng.integers(0, 5_000, rows.size)
    perms = np.stack([rng.permutation(n) for _ in range(20)])
    got = PermutedTau(x, y, rows, cols).tau_a(perms)
    expected = tau_a_rows(x[perms[:, rows], perms[:, cols]].astype(float), y.astype(float), 1.0)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("top", [2**11, 2**20, 2**25])
def test_codes_over_one_two_and_three_digits(top):
    """Codes up to 11, 20 and 25 bits (two or three radix passes, most groups of the last
    pass tiny) with ties placed across the digits, against the definition."""
    rng = np.random.default_rng(top)
    n = 70
    rows, cols = upper_indices(n)
    x = symmetric_codes(rng, n, 300) * (top // 300)  # ties, and codes spread over the bits
    corner = np.triu(rng.integers(top - 5, top, (5, 5)), 1)
    x[:5, :5] = corner + corner.T  # the largest codes
    y = rng.integers(0, 200, rows.size)
    perms = np.stack([rng.permutation(n) for _ in range(3)])
    got = PermutedTau(x, y, rows, cols).tau_a(perms)
    expected = [tau_a_by_definition(x[p[rows], p[cols]], y) for p in perms]
    np.testing.assert_allclose(got, expected, atol=1e-15)


def test_the_identity_permutation_of_equal_orders_is_one_and_the_reverse_minus_one():
    n = 30
    rows, cols = upper_indices(n)
    y = np.arange(rows.size)
    x = np.zeros((n, n), dtype=np.int64)
    x[rows, cols] = x[cols, rows] = y
    tau = PermutedTau(x, y, rows, cols)
    assert tau.tau_a(np.arange(n)[None])[0] == 1.0
    x[rows, cols] = x[cols, rows] = y[::-1]
    assert PermutedTau(x, y, rows, cols).tau_a(np.arange(n)[None])[0] == -1.0
