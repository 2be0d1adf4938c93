"""The documented exceptions to "same numbers as rsatoolbox" (analysis/README.md): each one
is run on both tools, so the README cannot drift from what the code does."""

import warnings

import numpy as np
import pytest
from rsatoolbox.inference import boot_noise_ceiling, eval_fixed
from rsatoolbox.model import ModelFixed
from rsatoolbox.rdm import RDMs
from rsatoolbox.rdm import compare as rsa_compare

from analysis.compare import compare, evaluate, noise_ceiling
from analysis.matrices import SimilarityMatrix, vector_to_square
from tests.unit.analysis.helpers import METHODS, RSA_METHOD, human_from, stimuli

N_STIMULI = 10
N_PAIRS = N_STIMULI * (N_STIMULI - 1) // 2
CORRELATIONS = ("pearson", "spearman")  # undefined for a constant vector


@pytest.fixture(scope="module")
def data():
    """Four noisy participants, one constant participant, and a model."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=N_PAIRS) + 5
    participants = np.vstack(
        [truth + rng.normal(size=N_PAIRS) for _ in range(4)] + [np.full(N_PAIRS, 2.0)]
    )
    return participants, truth + rng.normal(size=N_PAIRS)


def matrix(vector):
    return SimilarityMatrix.from_vector(vector, stimuli(N_STIMULI))


@pytest.mark.parametrize("method", METHODS)
def test_a_constant_model_is_nan_here_for_correlations_and_0_in_rsatoolbox(data, method):
    participants, _ = data
    constant, human = participants[-1], participants[0]
    ours = compare(matrix(constant), matrix(human), method)
    theirs = rsa_compare(RDMs(constant[None]), RDMs(human[None]), method=RSA_METHOD[method])
    assert theirs[0, 0] == 0.0
    if method in CORRELATIONS:
        assert np.isnan(ours)
    else:
        assert ours == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_a_constant_participant_is_left_out_here(data, method):
    participants, model = data
    human = human_from(participants)
    ours = evaluate({"net/fc": matrix(model)}, human, method)["evaluation"].iloc[0]
    ceiling = noise_ceiling(human, method)
    per_participant = [
        rsa_compare(RDMs(model[None]), RDMs(p[None]), method=RSA_METHOD[method])[0, 0]
        for p in participants
    ]
    assert per_participant[-1] == 0.0
    assert ours == pytest.approx(
        np.mean(per_participant[:-1] if method in CORRELATIONS else per_participant)
    )
    rsa_model = ModelFixed("net", RDMs(model[None]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "pearson":
            with pytest.raises(ValueError, match="different nan positions"):
                eval_fixed(rsa_model, RDMs(participants), method="corr")
            with pytest.raises(ValueError, match="different nan positions"):
                boot_noise_ceiling(RDMs(participants), method="corr")
            return
        theirs = np.nanmean(
            eval_fixed(rsa_model, RDMs(participants), method=RSA_METHOD[method]).evaluations
        )
        lower, upper = boot_noise_ceiling(RDMs(participants), method=RSA_METHOD[method])
    assert theirs == pytest.approx(np.mean(per_participant))
    if method == "spearman":
        assert ceiling.n_lower == ceiling.n_upper == 4
        assert ceiling.lower > lower + 0.05
        assert ceiling.upper > upper + 0.05
    else:
        assert (ceiling.lower, ceiling.upper) == pytest.approx((lower, upper), abs=1e-12)


def with_missing(vector):
    square = vector_to_square(vector)
    return SimilarityMatrix(square, stimuli(N_STIMULI), counts=(~np.isnan(square)).astype(int))


def test_differing_missing_pairs_are_refused_by_rsatoolbox_and_compared_here(data):
    participants, model = data
    a, b = participants[0].copy(), model.copy()
    a[0], b[1] = np.nan, np.nan
    with pytest.raises(ValueError, match="different nan positions"):
        rsa_compare(RDMs(a[None]), RDMs(b[None]), method="spearman")
    ours = compare(with_missing(a), with_missing(b), "spearman")
    both = slice(2, None)  # the pairs both sides have
    expected = rsa_compare(RDMs(a[None, both]), RDMs(b[None, both]), method="spearman")
    assert ours == pytest.approx(expected[0, 0], abs=1e-12)
