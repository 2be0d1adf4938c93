"""Point comparisons, model evaluations and noise ceilings against rsatoolbox and scipy."""

import warnings

import numpy as np
import pytest
import scipy.stats
from rsatoolbox.inference import boot_noise_ceiling
from rsatoolbox.rdm import compare as rsa_compare

from analysis.compare import compare, evaluate, model_matrices, noise_ceiling
from analysis.evaluation import make_engine
from analysis.kernels import correlate, weighted_ranks
from analysis.matrices import ParticipantMatrices, SimilarityMatrix, vector_to_square
from tests.unit.analysis.helpers import (
    METHODS,
    RSA_METHOD,
    dense_data,
    human_from,
    models_from,
    rsa_inputs,
    stimuli,
)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_evaluation_and_noise_ceiling_equal_rsatoolbox(method, seed):
    data, models = dense_data(seed)
    rsa_data, rsa_models = rsa_inputs(data, models)
    table = evaluate(models_from(models), human_from(data), method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rsatoolbox warns about tau-a ceilings
        expected_nc = boot_noise_ceiling(rsa_data, method=RSA_METHOD[method])
    for k, model in enumerate(rsa_models):
        expected = rsa_compare(model.rdm_obj, rsa_data, RSA_METHOD[method]).mean()
        assert table["evaluation"][k] == pytest.approx(expected, abs=1e-12)
    assert table["noise_ceiling_lower"][0] == pytest.approx(expected_nc[0], abs=1e-12)
    assert table["noise_ceiling_upper"][0] == pytest.approx(expected_nc[1], abs=1e-12)
    nc = noise_ceiling(human_from(data), method)
    assert (nc.lower, nc.upper) == pytest.approx(expected_nc, abs=1e-12)


def test_evaluate_splits_model_and_layer_and_keeps_order():
    data, models = dense_data(0)
    table = evaluate(models_from(models), human_from(data))
    assert list(table["model"]) == ["net0", "net1", "net2"]
    assert set(table["layer"]) == {"conv"}
    # the least noisy model agrees best in this construction
    assert table["evaluation"].iloc[0] > table["evaluation"].iloc[-1]


def test_compare_matches_scipy_and_aligns_stimuli_by_id():
    rng = np.random.default_rng(0)
    a = SimilarityMatrix(vector_to_square(rng.random(15)), stimuli(6))
    values = vector_to_square(rng.random(15))
    b = SimilarityMatrix(values, stimuli(6))
    shuffled = b.reorder(list(reversed(stimuli(6))))
    assert compare(a, shuffled, "pearson") == pytest.approx(
        scipy.stats.pearsonr(a.upper(), b.upper()).statistic, abs=1e-12
    )
    assert compare(a, b, "spearman") == pytest.approx(
        scipy.stats.spearmanr(a.upper(), b.upper()).statistic, abs=1e-12
    )


def test_compare_leaves_out_missing_pairs():
    rng = np.random.default_rng(1)
    x = rng.random(15)
    y = rng.random(15)
    y[[2, 7]] = np.nan
    counts = np.where(np.isnan(y), 0, 1)
    a = SimilarityMatrix(vector_to_square(x), stimuli(6))
    b = SimilarityMatrix.from_vector(y, stimuli(6), counts=counts)
    ok = ~np.isnan(y)
    expected = scipy.stats.spearmanr(x[ok], y[ok]).statistic
    assert compare(a, b, "spearman") == pytest.approx(expected, abs=1e-12)


def naive_sparse_ceiling(data, method, min_pairs=3):
    """Our documented definition for participants with different missing pairs: both bounds
    of a participant on the pairs it shares with someone else, participants with fewer than
    `min_pairs` such pairs or an undefined statistic left out."""
    n_p = len(data)
    mask = ~np.isnan(data)
    if method == "pearson":
        terms = []
        for p in range(n_p):
            v = data[p][mask[p]]
            t = np.zeros(data.shape[1])
            if v.std() == 0:  # cannot be z-scored: left out of the pools
                mask = mask.copy()
                mask[p] = False
            else:
                t[mask[p]] = (v - v.mean()) / v.std()
            terms.append(t)
        observed = ~np.isnan(data)
    else:
        terms = []
        for p in range(n_p):
            r = weighted_ranks(np.nan_to_num(data[p]), mask[p].astype(float))
            terms.append(np.where(mask[p], (r - 0.5) / mask[p].sum(), 0.0))
        observed = mask
    terms = np.array(terms)
    lower, upper = np.full(n_p, np.nan), np.full(n_p, np.nan)
    for p in range(n_p):
        others = [q for q in range(n_p) if q != p]
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = terms.sum(0) / mask.sum(0)
            loo = terms[others].sum(0) / mask[others].sum(0)
        shared = (observed[p] & (mask[others].sum(0) > 0)).astype(float)
        if shared.sum() >= min_pairs:
            y = np.nan_to_num(data[p])
            upper[p] = correlate(method, np.nan_to_num(pooled), y, shared)
            lower[p] = correlate(method, np.nan_to_num(loo), y, shared)
    return lower, upper


@pytest.mark.parametrize("method", METHODS)
def test_sparse_participants_use_their_own_pairs(method):
    data, models = dense_data(4, n=10, n_participants=7)
    rng = np.random.default_rng(9)
    data[rng.random(data.shape) < 0.3] = np.nan
    human = human_from(data)
    table = evaluate(models_from(models), human, method)
    for k in range(len(models)):
        per = []
        for p in range(len(data)):
            ok = ~np.isnan(data[p])
            per.append(correlate(method, models[k][ok], data[p][ok], np.ones(ok.sum())))
        assert table["evaluation"][k] == pytest.approx(np.mean(per), abs=1e-12)
    nc = noise_ceiling(human, method)
    lower, upper = naive_sparse_ceiling(data, method)
    assert (nc.lower, nc.upper) == pytest.approx((lower.mean(), upper.mean()), abs=1e-12)


def sparse_design_with_problems():
    """Participant 0 judged many pairs nobody else did, 1 shares only 2 pairs, 2 is constant on
    its shared pairs; the other 4 share plenty."""
    data, _ = dense_data(6, n=10, n_participants=7)
    rng = np.random.default_rng(2)
    data[3:][rng.random((4, data.shape[1])) < 0.3] = np.nan
    data[:3] = np.nan
    data[0, :30] = rng.random(30)
    data[3:, 15:] = np.nan  # pairs 15-29: only participant 0 has them
    data[1, [0, 1]] = [0.2, 0.9]
    data[1, 30:] = rng.random(15)  # unshared
    data[2, [2, 3, 4, 5]] = 0.5
    return data


@pytest.mark.parametrize("method", METHODS)
def test_sparse_ceiling_uses_shared_pairs_and_counts_who_is_left_out(method):
    data = sparse_design_with_problems()
    nc = noise_ceiling(human_from(data), method)
    lower, upper = naive_sparse_ceiling(data, method)
    assert np.isnan([lower[1], upper[1]]).all()  # too few shared pairs
    assert (nc.lower, nc.upper) == pytest.approx((np.nanmean(lower), np.nanmean(upper)), abs=1e-12)
    assert (nc.n_participants, nc.n_lower, nc.n_upper) == (
        7,
        (~np.isnan(lower)).sum(),
        (~np.isnan(upper)).sum(),
    )
    table = nc.participants
    assert table["shared_pairs"].tolist()[:3] == [15, 2, 4]
    np.testing.assert_allclose(table["lower"], lower, atol=1e-12)
    assert nc.note.startswith("Lower bound from ")
    assert "1 of 7 participants share fewer than 3 judged pairs" in nc.note
    assert "The bounds rest on a median of 15 shared pairs" not in nc.note  # not few
    if method in ("pearson", "spearman"):  # participant 2 is constant: undefined, left out
        assert nc.n_lower == nc.n_upper == 5
        assert "undefined (a constant vector on the shared pairs) for the lower bound of 1" in (
            nc.note
        )
    else:  # rho-a and tau-a are 0 for a constant vector
        assert nc.n_lower == nc.n_upper == 6
    # participant 0's upper bound uses its 15 shared pairs only: on all 30 (15 of them its own
    # values) it would be inflated towards 1
    own = ~np.isnan(data[0])
    inflated = naive_sparse_ceiling(np.where(own, data[0], np.nan)[None].repeat(2, 0), method)
    assert upper[0] < 1.0
    assert inflated[1][0] == pytest.approx(1.0)


def test_ceiling_without_shared_pairs_is_nan_and_says_why():
    data = np.full((3, 36), np.nan)
    for p in range(3):  # disjoint pair sets
        data[p, 12 * p : 12 * (p + 1)] = np.arange(12.0)
    nc = noise_ceiling(human_from(data), "spearman")
    assert np.isnan([nc.lower, nc.upper]).all()
    assert nc.n_lower == nc.n_upper == 0
    assert nc.note.startswith("No lower and upper bound: 3 of 3 participants share fewer than 3")
    assert "majority-agreement ceiling" in nc.note
    assert nc.as_dict()["median_shared_pairs"] == 0


def test_ceiling_on_few_shared_pairs_is_called_imprecise():
    rng = np.random.default_rng(0)
    data = np.full((3, 36), np.nan)
    data[:, :4] = rng.random((3, 4))  # 4 shared pairs each
    for p in range(3):
        data[p, 4 + 10 * p : 14 + 10 * p] = rng.random(10)  # and 10 of its own
    nc = noise_ceiling(human_from(data), "pearson")
    assert nc.n_lower == nc.n_upper == 3
    assert nc.note.startswith("The bounds rest on a median of 4 shared pairs per participant")


def test_dense_ceiling_leaves_out_a_participant_with_an_undefined_statistic():
    data, _ = dense_data(1)
    data[2] = 0.5  # constant: cannot be z-scored (rsatoolbox pools with a NaN-mean, then its
    # mean over participants is NaN)
    nc = noise_ceiling(human_from(data), "pearson")
    rest = human_from(np.delete(data, 2, axis=0))
    lower, upper, _ = make_engine(np.zeros((1, 36)), data, "pearson").participant_bounds()
    assert np.isnan([lower[2], upper[2]]).all()
    assert nc.n_lower == nc.n_upper == 5
    assert (nc.lower, nc.upper) == pytest.approx((np.nanmean(lower), np.nanmean(upper)))
    without = noise_ceiling(rest, "pearson")  # left out of the pools, too
    assert (nc.lower, nc.upper) == pytest.approx((without.lower, without.upper), abs=1e-12)
    assert "undefined" in nc.note


def test_model_matrices_accepts_arrays_tuples_and_checks_completeness():
    _data, models = dense_data(0)
    arrays = {("net0", "fc"): vector_to_square(models[0])}
    out = model_matrices(arrays, stimuli(9))
    assert list(out) == ["net0/fc"]
    with pytest.raises(ValueError, match="'stimuli' parameter of model_matrices"):
        model_matrices(arrays)
    holes = vector_to_square(models[0])
    holes[0, 1] = holes[1, 0] = np.nan
    counts = np.ones((9, 9), int)
    counts[0, 1] = counts[1, 0] = 0
    with pytest.raises(ValueError, match="a complete matrix"):
        model_matrices({"x": SimilarityMatrix(holes, stimuli(9), counts=counts)})


def test_noise_ceiling_needs_two_participants_and_valid_min_pairs():
    data, _ = dense_data(0, n_participants=1)
    with pytest.raises(ValueError, match="at least 2 participants"):
        noise_ceiling(human_from(data))
    data, _ = dense_data(0)
    with pytest.raises(ValueError, match="'min_pairs' parameter of noise_ceiling"):
        noise_ceiling(human_from(data), min_pairs=1)


def test_evaluate_rejects_unknown_method_and_plain_arrays_as_human():
    data, models = dense_data(0)
    with pytest.raises(ValueError, match="'method' parameter of evaluate"):
        evaluate(models_from(models), human_from(data), "kendall")
    with pytest.raises(ValueError, match="'human' parameter of evaluate"):
        evaluate(models_from(models), data)


def test_similarity_participants_are_converted_to_dissimilarity():
    rng = np.random.default_rng(0)
    props = rng.random((4, 15))
    sim = ParticipantMatrices.from_dense(props, list("abcd"), stimuli(6), kind="similarity")
    dis = ParticipantMatrices.from_dense(1 - props, list("abcd"), stimuli(6))
    model = {"m": SimilarityMatrix(vector_to_square(rng.random(15)), stimuli(6))}
    a = evaluate(model, sim, "pearson")["evaluation"][0]
    b = evaluate(model, dis, "pearson")["evaluation"][0]
    assert a == pytest.approx(b, abs=1e-12)


def test_model_matrices_accept_modelsvc_style_objects():
    """modelsvc's DissimilarityMatrix(matrix, stimulus_ids, metric, layer) is taken as is."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class DissimilarityMatrix:
        matrix: np.ndarray
        stimulus_ids: tuple[str, ...]
        metric: str = "correlation"
        layer: str | None = None

    _, models = dense_data(0)
    values = vector_to_square(models[0])
    ids = tuple(stimuli(9))
    reversed_ids = ids[::-1]
    obj = DissimilarityMatrix(values[::-1, ::-1], reversed_ids)
    out = model_matrices({"vgg/fc7": obj}, stimuli(9))["vgg/fc7"]
    np.testing.assert_array_equal(out.values, values)
    assert out.measure == "correlation"
