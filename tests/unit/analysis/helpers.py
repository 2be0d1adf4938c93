"""Shared test data and the bridge that feeds our resampling draws to rsatoolbox."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from analysis.matrices import ParticipantMatrices, SimilarityMatrix, vector_to_square

RSA_METHOD = {"pearson": "corr", "spearman": "spearman", "rho-a": "rho-a", "tau-a": "tau-a"}
METHODS = tuple(RSA_METHOD)


def stimuli(n: int) -> list[str]:
    return [f"s{k:02d}" for k in range(n)]


def dense_data(seed: int, n: int = 9, n_participants: int = 6, n_models: int = 3, ties=True):
    """Participant vectors (with ties when `ties`) and model vectors sharing a structure."""
    rng = np.random.default_rng(seed)
    n_pairs = n * (n - 1) // 2
    base = rng.random(n_pairs)
    data = base + rng.normal(0, 0.6, (n_participants, n_pairs))
    if ties:
        data = np.round(data, 1)
    models = np.stack([base + rng.normal(0, s, n_pairs) for s in np.linspace(0.3, 1.5, n_models)])
    if ties:
        models[-1] = np.round(models[-1], 1)
    return data, models


def human_from(data: np.ndarray) -> ParticipantMatrices:
    n = round((1 + np.sqrt(1 + 8 * data.shape[1])) / 2)
    return ParticipantMatrices.from_dense(data, [f"p{k}" for k in range(len(data))], stimuli(n))


def models_from(models: np.ndarray) -> dict[str, SimilarityMatrix]:
    n = round((1 + np.sqrt(1 + 8 * models.shape[1])) / 2)
    return {
        f"net{k}/conv": SimilarityMatrix(vector_to_square(v), stimuli(n))
        for k, v in enumerate(models)
    }


@contextlib.contextmanager
def rsatoolbox_draws(stimulus_draws=None, participant_draws=None):
    """Make rsatoolbox's evaluate module use the given draws instead of np.random.

    rsatoolbox's ``bootstrap_sample*`` helpers draw indices and then call ``subsample`` /
    ``subsample_pattern``; the replacements do exactly that with the next given row, so the
    rest of rsatoolbox's code (copies, NaN self-pairs, pooling, comparison) runs unchanged.
    """
    import rsatoolbox.inference.evaluate as evaluate

    stim = iter(stimulus_draws if stimulus_draws is not None else [])
    part = iter(participant_draws if participant_draws is not None else [])

    def pattern(rdms, pattern_descriptor="index"):
        idx = next(stim)
        return rdms.subsample_pattern(pattern_descriptor, idx), idx

    def rdm(rdms, rdm_descriptor="index"):
        idx = next(part)
        return rdms.subsample(rdm_descriptor, idx), idx

    def both(rdms, rdm_descriptor="index", pattern_descriptor="index"):
        r_idx, p_idx = next(part), next(stim)
        sample = rdms.subsample(rdm_descriptor, r_idx).subsample_pattern(pattern_descriptor, p_idx)
        return sample, r_idx, p_idx

    saved = (
        evaluate.bootstrap_sample_pattern,
        evaluate.bootstrap_sample_rdm,
        evaluate.bootstrap_sample,
    )
    evaluate.bootstrap_sample_pattern, evaluate.bootstrap_sample_rdm = pattern, rdm
    evaluate.bootstrap_sample = both
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield evaluate
    finally:
        (
            evaluate.bootstrap_sample_pattern,
            evaluate.bootstrap_sample_rdm,
            evaluate.bootstrap_sample,
        ) = saved


def rsa_inputs(data: np.ndarray, models: np.ndarray):
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    return RDMs(data), [ModelFixed(f"net{k}/conv", RDMs(v)) for k, v in enumerate(models)]
