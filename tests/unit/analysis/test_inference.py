"""Bootstraps, dual bootstrap, Mantel and FDR against rsatoolbox, scipy and statsmodels."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from rsatoolbox.rdm.compare import _tau_a as rsatoolbox_tau_a
from statsmodels.stats.multitest import multipletests

from analysis.inference import (
    Bootstrap,
    bootstrap_evaluations,
    bootstrap_indices,
    compare_models,
    draw_counts,
    dual_bootstrap,
    fdr_bh,
    mantel_test,
    mantel_tests,
    stimulus_pair_weights,
)
from analysis.kernels import SortedRows, tau_a_rows
from analysis.matrices import SimilarityMatrix, upper_indices, vector_to_square
from tests.unit.analysis.helpers import (
    METHODS,
    RSA_METHOD,
    dense_data,
    human_from,
    models_from,
    rsa_inputs,
    rsatoolbox_draws,
    stimuli,
)

N_BOOT = 20  # >= 16, so the Pearson product-matrix path runs too


@pytest.fixture(scope="module")
def setup():
    data, models = dense_data(5, n=9, n_participants=6, n_models=3)
    stim = bootstrap_indices(9, N_BOOT, random_state=1)
    stim[3] = [2, 2, 2, 5, 5, 5, 5, 2, 2]  # fewer than 3 distinct stimuli: dropped
    part = bootstrap_indices(6, N_BOOT, random_state=2)
    return data, models, stim, part


def assert_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("method", METHODS)
def test_stimulus_bootstrap_equals_rsatoolbox(setup, method):
    data, models, stim, _ = setup
    rsa_data, rsa_models = rsa_inputs(data, models)
    with rsatoolbox_draws(stimulus_draws=stim) as ev:
        expected = ev.eval_bootstrap_pattern(
            rsa_models, rsa_data, method=RSA_METHOD[method], N=N_BOOT
        )
    ours = bootstrap_evaluations(
        models_from(models),
        human_from(data),
        method,
        scheme="stimuli",
        n_boot=N_BOOT,
        stimulus_indices=stim,
    )
    assert np.isnan(ours.evaluations[3]).all()
    assert_close(ours.evaluations, expected.evaluations)
    assert_close(ours.noise_ceiling, expected.noise_ceiling.T)


@pytest.mark.parametrize("method", METHODS)
def test_participant_bootstrap_equals_rsatoolbox(setup, method):
    data, models, _, part = setup
    rsa_data, rsa_models = rsa_inputs(data, models)
    with rsatoolbox_draws(participant_draws=part) as ev:
        expected = ev.eval_bootstrap_rdm(rsa_models, rsa_data, method=RSA_METHOD[method], N=N_BOOT)
    ours = bootstrap_evaluations(
        models_from(models),
        human_from(data),
        method,
        scheme="participants",
        n_boot=N_BOOT,
        participant_indices=part,
    )
    assert_close(ours.evaluations, expected.evaluations)
    assert_close(ours.noise_ceiling, expected.noise_ceiling.T)


@pytest.mark.parametrize("method", METHODS)
def test_combined_bootstrap_equals_rsatoolbox(setup, method):
    data, models, stim, part = setup
    rsa_data, rsa_models = rsa_inputs(data, models)
    with rsatoolbox_draws(stim, part) as ev:
        expected = ev.eval_bootstrap(rsa_models, rsa_data, method=RSA_METHOD[method], N=N_BOOT)
    ours = bootstrap_evaluations(
        models_from(models),
        human_from(data),
        method,
        scheme="both",
        n_boot=N_BOOT,
        stimulus_indices=stim,
        participant_indices=part,
    )
    assert_close(ours.evaluations, expected.evaluations)
    assert_close(ours.noise_ceiling, expected.noise_ceiling.T)
    # the covariance rsatoolbox keeps for its tests is the same matrix
    assert_close(ours.covariance(), expected.variances)


@pytest.mark.parametrize("method", METHODS)
def test_dual_bootstrap_equals_rsatoolbox(setup, method):
    data, models, stim, part = setup
    rsa_data, rsa_models = rsa_inputs(data, models)
    with rsatoolbox_draws(stim, part) as ev:
        expected = ev.eval_dual_bootstrap(rsa_models, rsa_data, method=RSA_METHOD[method], N=N_BOOT)
    ours = dual_bootstrap(
        models_from(models),
        human_from(data),
        method,
        n_boot=N_BOOT,
        stimulus_indices=stim,
        participant_indices=part,
    )
    for k, boot in enumerate((ours.both, ours.participants, ours.stimuli)):
        assert_close(boot.evaluations, expected.evaluations[:, :, 0, 0, k])
        assert_close(boot.noise_ceiling, expected.noise_ceiling[:, :, 0, k].T)
    assert_close(ours.model_variance, expected.model_var)
    assert_close(ours.difference_variance, expected.diff_var)
    assert_close(ours.ceiling_difference_variance, expected.noise_ceil_var)
    assert ours.dof == expected.dof


def test_dual_bootstrap_tables_are_consistent(setup):
    data, models, stim, part = setup
    dual = dual_bootstrap(
        models_from(models),
        human_from(data),
        "spearman",
        n_boot=N_BOOT,
        stimulus_indices=stim,
        participant_indices=part,
    )
    table = dual.table()
    t = scipy.stats.t.ppf(0.975, dual.dof)
    np.testing.assert_allclose(table["ci_high"] - table["evaluation"], t * table["se"])
    assert (table["ci_low"] <= table["evaluation"]).all()
    assert ((table["p_zero"] >= 0) & (table["p_zero"] <= 1)).all()
    diffs = dual.differences()
    assert list(zip(diffs["model_a"], diffs["model_b"], strict=True)) == [
        ("net0/conv", "net1/conv"),
        ("net0/conv", "net2/conv"),
        ("net1/conv", "net2/conv"),
    ]
    assert diffs["difference"][0] == pytest.approx(dual.estimate[0] - dual.estimate[1])
    np.testing.assert_allclose(diffs["p_fdr"], multipletests(diffs["p"], method="fdr_bh")[1])


def test_stimulus_pair_weights_count_pairs_of_the_resampled_matrix():
    draws = np.array([[0, 0, 1, 3], [2, 2, 2, 2]])
    weights = stimulus_pair_weights(draws, 4)
    rows, cols = upper_indices(4)
    # draw 0: counts c = (2, 1, 0, 1) -> w_ij = c_i c_j
    expected = np.array([2, 0, 2, 0, 1, 0])
    assert weights[0].tolist() == expected.tolist()
    assert weights[1].sum() == 0  # one stimulus repeated: only self-pairs, all dropped
    assert draw_counts(draws, 4)[0].tolist() == [2, 1, 0, 1]
    assert rows.size == 6
    assert cols.size == 6


def test_given_draws_are_validated(setup):
    data, models, stim, _ = setup
    with pytest.raises(ValueError, match="'stimulus_indices' parameter"):
        bootstrap_evaluations(
            models_from(models), human_from(data), n_boot=N_BOOT, stimulus_indices=stim[:, :5] + 20
        )
    with pytest.raises(ValueError, match="'scheme' parameter"):
        bootstrap_evaluations(models_from(models), human_from(data), scheme="pairs")


def naive_mantel(x, y, perms, method):
    rows, cols = upper_indices(len(x))
    ok = ~np.isnan(y[rows, cols])
    stat = {
        "pearson": lambda a, b: scipy.stats.pearsonr(a, b).statistic,
        "spearman": lambda a, b: scipy.stats.spearmanr(a, b).statistic,
        "tau-a": lambda a, b: scipy.stats.kendalltau(a, b).statistic,  # no ties: tau-a == tau-b
    }[method]
    observed = stat(x[rows, cols][ok], y[rows, cols][ok])
    null = np.array([stat(x[np.ix_(p, p)][rows, cols][ok], y[rows, cols][ok]) for p in perms])
    return observed, null


@pytest.mark.parametrize("method", ["pearson", "spearman", "tau-a"])
@pytest.mark.parametrize("holes", [False, True])
def test_mantel_equals_a_loop_over_the_same_permutations(method, holes):
    rng = np.random.default_rng(3)
    n = 10
    x = vector_to_square(rng.random(45))
    yv = 0.4 * x[upper_indices(n)] + rng.random(45)
    counts = None
    if holes:
        yv[[1, 8, 30]] = np.nan
        counts = np.where(np.isnan(yv), 0, 1)
    a = SimilarityMatrix(x, stimuli(n))
    b = SimilarityMatrix.from_vector(yv, stimuli(n), counts=counts)
    perms = np.stack([rng.permutation(n) for _ in range(200)])
    result = mantel_test(a, b, method, permutations=perms)
    observed, null = naive_mantel(x, b.values, perms, method)
    assert result.statistic == pytest.approx(observed, abs=1e-12)
    np.testing.assert_allclose(result.null, null, atol=1e-12)
    assert result.p_value == pytest.approx((1 + np.sum(null >= observed - 1e-12)) / 201)


def test_tau_a_mantel_on_many_pairs_with_ties_on_both_sides_and_missing_pairs():
    """Beyond the quadratic size, with both sides having many distinct values (the merge
    count per permutation), ties in the model and the human matrix count as ties."""
    rng = np.random.default_rng(11)
    n = 40
    rows, cols = upper_indices(n)
    xv = np.round(rng.random(rows.size), 2)  # about 100 values: ties
    yv = np.round(0.5 * xv + rng.random(rows.size), 2)
    yv[rng.choice(rows.size, 50, replace=False)] = np.nan
    a = SimilarityMatrix.from_vector(xv, stimuli(n))
    b = SimilarityMatrix.from_vector(yv, stimuli(n), counts=np.where(np.isnan(yv), 0, 1))
    perms = np.stack([rng.permutation(n) for _ in range(30)])
    result = mantel_test(a, b, "tau-a", permutations=perms)
    ok = ~np.isnan(yv)
    x = a.values
    expected = [rsatoolbox_tau_a(x[np.ix_(p, p)][rows, cols][ok], yv[ok]) for p in perms]
    np.testing.assert_allclose(result.null, expected, atol=1e-12)
    assert result.statistic == pytest.approx(rsatoolbox_tau_a(xv[ok], yv[ok]), abs=1e-12)


@pytest.mark.parametrize("ties", ["model", "group", "both"])
def test_tau_a_mantel_against_a_group_matrix_is_the_merge_count_of_each_permutation(ties):
    """Both sides with more values than the levels algorithm takes (a model against an
    embedding's group matrix): the null, counted in the group's order, is bit for bit the
    merge count of each permuted vector (`tau_a_rows`), with ties on either side or both."""
    rng = np.random.default_rng(12)
    n = 30
    rows, cols = upper_indices(n)
    xv = rng.random(rows.size)
    yv = 0.5 * xv + rng.random(rows.size)
    if ties in ("model", "both"):
        xv = np.round(xv, 2)
    if ties in ("group", "both"):
        yv = np.round(yv, 2)
    a = SimilarityMatrix.from_vector(xv, stimuli(n))
    b = SimilarityMatrix.from_vector(yv, stimuli(n))
    perms = np.stack([rng.permutation(n) for _ in range(40)])
    result = mantel_test(a, b, "tau-a", permutations=perms)
    gathered = a.values[perms[:, rows], perms[:, cols]]
    expected = tau_a_rows(gathered, yv[None], np.ones((1, rows.size)))
    np.testing.assert_array_equal(result.null, expected)


def pair_order_null(method, x, y, perms):
    """The Mantel null as it was computed before the permuted-matrix products: the centred
    permuted pairs (or their mid-ranks) gathered in pair order, times the centred y."""
    rows, cols = upper_indices(len(x))
    tx = np.zeros_like(x)
    tx[rows, cols] = x[rows, cols]
    ty = y
    if method != "pearson":
        tx[rows, cols] = SortedRows(x[rows, cols]).ranks(np.ones((1, rows.size)))[0]
        ty = SortedRows(y).ranks(np.ones((1, y.size)))[0]
    tx = tx + tx.T
    tx, ty = tx - tx[rows, cols].mean(), ty - ty.mean()
    if method == "rho-a":
        scale = 12.0 / (y.size**3 - y.size)
    else:
        scale = 1.0 / np.sqrt(np.sum(tx[rows, cols] ** 2) * np.sum(ty**2))
    return (tx[perms[:, rows], perms[:, cols]] @ ty) * scale


@pytest.mark.parametrize("ties", [False, True])
def test_mantel_rank_nulls_are_the_pair_order_products_bit_for_bit(ties):
    """Spearman and rho-a (one set of permuted rank products for both) are the same floats
    as the pair-order gather; Pearson, summed in another order, agrees to rounding."""
    rng = np.random.default_rng(14)
    n = 30
    n_pairs = n * (n - 1) // 2
    xv = rng.random(n_pairs)
    yv = 0.3 * xv + rng.random(n_pairs)
    if ties:
        xv, yv = np.round(xv, 1), np.round(yv, 1)
    a = SimilarityMatrix.from_vector(xv, stimuli(n))
    b = SimilarityMatrix.from_vector(yv, stimuli(n))
    perms = np.stack([rng.permutation(n) for _ in range(200)])
    results = mantel_tests(a, b, ("spearman", "rho-a", "pearson"), perms)
    x = a.dissimilarity().values
    y = b.dissimilarity().upper()
    for result in results:
        expected = pair_order_null(result.method, x, y, perms)
        if result.method == "pearson":
            np.testing.assert_allclose(result.null, expected, rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_array_equal(result.null, expected)
        alone = mantel_test(a, b, result.method, permutations=perms)
        np.testing.assert_array_equal(alone.null, result.null)
        assert alone.p_value == result.p_value


def test_mantel_alternatives_and_random_state():
    rng = np.random.default_rng(4)
    x = vector_to_square(rng.random(28))
    a = SimilarityMatrix(x, stimuli(8))
    b = SimilarityMatrix(x.max() - x, stimuli(8))  # perfectly reversed
    assert mantel_test(a, b, "pearson", n_permutations=300, random_state=0).p_value > 0.9
    less = mantel_test(a, b, "pearson", n_permutations=300, random_state=0, alternative="less")
    assert less.p_value < 0.01
    two = mantel_test(a, b, "spearman", n_permutations=300, random_state=0, alternative="two-sided")
    assert two.p_value < 0.01
    again = mantel_test(
        a, b, "spearman", n_permutations=300, random_state=0, alternative="two-sided"
    )
    np.testing.assert_array_equal(two.null, again.null)


def test_fdr_bh_equals_statsmodels_and_keeps_nan():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5])
    out = fdr_bh(p)
    ok = ~np.isnan(p)
    np.testing.assert_allclose(out[ok], multipletests(p[ok], method="fdr_bh")[1])
    assert np.isnan(out[2])


def test_compare_models_is_deterministic_and_complete():
    data, models = dense_data(6, n=8, n_participants=5, n_models=2)
    kwargs = {
        "methods": ("spearman", "tau-a"),
        "n_boot": 20,
        "n_permutations": 50,
        "random_state": 3,
    }
    table, diffs = compare_models(models_from(models), human_from(data), **kwargs)
    again, _ = compare_models(models_from(models), human_from(data), **kwargs)
    pd.testing.assert_frame_equal(table, again)
    assert len(table) == 4
    assert len(diffs) == 2
    for col in ("mantel_p_fdr", "p_zero_fdr", "ci_low_stimuli", "ci_high_participants", "se_both"):
        assert table[col].notna().all()
    other, _ = compare_models(
        models_from(models), human_from(data), **{**kwargs, "random_state": 4}
    )
    assert not np.allclose(other["se"], table["se"])


def test_compare_models_gives_the_same_numbers_on_threads():
    data, models = dense_data(7, n=9, n_participants=6, n_models=3)
    kwargs = {"n_boot": 20, "n_permutations": 60, "random_state": 5}
    one, one_diffs = compare_models(models_from(models), human_from(data), **kwargs)
    two, two_diffs = compare_models(models_from(models), human_from(data), n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    pd.testing.assert_frame_equal(one_diffs, two_diffs, check_exact=True)
    with pytest.raises(ValueError, match="'n_jobs' parameter of compare_models"):
        compare_models(models_from(models), human_from(data), n_jobs=0, **kwargs)


def test_pearson_paths_with_and_without_the_product_matrix_agree(setup, monkeypatch):
    import analysis.evaluation as evaluation

    data, models, stim, part = setup
    args = (models_from(models), human_from(data), "pearson")
    kwargs = {"n_boot": N_BOOT, "stimulus_indices": stim, "participant_indices": part}
    with_products = dual_bootstrap(*args, **kwargs)
    monkeypatch.setattr(evaluation, "_PRODUCTS_MIN_DRAWS", 10**9)
    per_draw = dual_bootstrap(*args, **kwargs)
    for a, b in ((with_products.both, per_draw.both), (with_products.stimuli, per_draw.stimuli)):
        assert_close(a.evaluations, b.evaluations)
        assert_close(a.noise_ceiling, b.noise_ceiling)


def test_percentile_interval_is_nan_for_a_model_never_defined_and_warns_nothing():
    evaluations = np.column_stack([np.linspace(0, 1, 101), np.full(101, np.nan)])
    boot = Bootstrap(
        scheme="stimuli",
        method="spearman",
        models=("defined", "never"),
        evaluations=evaluations,
        noise_ceiling=np.zeros((101, 2)),
        stimulus_indices=None,
        participant_indices=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        interval = boot.percentile_interval(0.9)
    np.testing.assert_allclose(interval[0], [0.05, 0.95])
    assert np.isnan(interval[1]).all()
