"""Point comparisons, model evaluations and noise ceilings against rsatoolbox and scipy."""

import warnings

import numpy as np
import pytest
import scipy.stats
from rsatoolbox.inference import boot_noise_ceiling
from rsatoolbox.rdm import compare as rsa_compare

from analysis._weighted import correlate, weighted_ranks
from analysis.compare import compare, evaluate, model_matrices, noise_ceiling
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


def naive_sparse_ceiling(data, method):
    """Our documented definition for participants with different missing pairs."""
    n_p = len(data)
    mask = ~np.isnan(data)
    if method == "pearson":
        terms = []
        for p in range(n_p):
            v = data[p][mask[p]]
            t = np.zeros(data.shape[1])
            t[mask[p]] = (v - v.mean()) / v.std()
            terms.append(t)
    else:
        terms = []
        for p in range(n_p):
            r = weighted_ranks(np.nan_to_num(data[p]), mask[p].astype(float))
            terms.append(np.where(mask[p], (r - 0.5) / mask[p].sum(), 0.0))
    terms = np.array(terms)
    lower, upper = [], []
    for p in range(n_p):
        others = [q for q in range(n_p) if q != p]
        pooled = terms.sum(0) / mask.sum(0)
        loo = terms[others].sum(0) / mask[others].sum(0)
        y = np.nan_to_num(data[p])
        w_up = mask[p].astype(float)
        w_lo = (mask[p] & (mask[others].sum(0) > 0)).astype(float)
        upper.append(correlate(method, np.nan_to_num(pooled), y, w_up))
        lower.append(correlate(method, np.nan_to_num(loo), y, w_lo))
    return np.mean(lower), np.mean(upper)


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
    assert (nc.lower, nc.upper) == pytest.approx(naive_sparse_ceiling(data, method), abs=1e-12)


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


def test_noise_ceiling_needs_two_participants():
    data, _ = dense_data(0, n_participants=1)
    with pytest.raises(ValueError, match="at least 2 participants"):
        noise_ceiling(human_from(data))


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
