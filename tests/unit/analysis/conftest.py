"""Simulated studies shared by the analysis tests (built once per session)."""

import pytest

from analysis.io import read_responses
from analysis.simulate import Design, random_dissimilarity, simulate_responses


@pytest.fixture(scope="session")
def truth():
    return random_dissimilarity(14, n_dims=3, random_state=0)


@pytest.fixture(scope="session")
def study_responses(truth):
    """Export-format responses (via CSV text) for each trial type: 10 participants, the last
    one answering at random."""

    def make(kind: str):
        design = Design(
            trial_type=kind,
            n_participants=10,
            n_trials=260,
            n_random=1,
            repeat_fraction=0.1,
            n_practice=2,
        )
        return read_responses(simulate_responses(truth, design, random_state=7))

    return {kind: make(kind) for kind in ("triplet", "afc", "rating")}
