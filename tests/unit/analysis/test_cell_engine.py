"""`CellEngine` (observed cells only) gives the numbers of `SparseEngine` (participants x all
pairs), the implementation it replaces, on small sparse designs and resampling draws."""

import numpy as np
import pytest

from analysis.cell_engine import CellEngine, RankSums
from analysis.evaluation import (
    DenseEngine,
    PairWeightChunk,
    PairWeightRows,
    SparseEngine,
    make_engine,
)
from analysis.human.choices import choice_matrices, choice_table
from analysis.inference import draw_counts, stimulus_pair_weights
from analysis.io import read_responses
from analysis.matrices import ParticipantMatrices
from analysis.simulate import Design, random_dissimilarity, simulate_responses
from tests.unit.analysis.helpers import METHODS

N_STIMULI, N_PARTICIPANTS, N_DRAWS = 20, 12, 40


def sparse_data(seed: int, values: str) -> tuple[np.ndarray, np.ndarray]:
    """Participants with 5-60 of the 190 pairs each; choice-like values (many ties, the
    case where rank ties must come out exactly the same) or continuous ones."""
    rng = np.random.default_rng(seed)
    n_pairs = N_STIMULI * (N_STIMULI - 1) // 2
    data = np.full((N_PARTICIPANTS, n_pairs), np.nan)
    for p in range(N_PARTICIPANTS):
        k = rng.integers(5, 60)
        pairs = rng.choice(n_pairs, k, replace=False)
        if values == "choices":
            data[p, pairs] = rng.choice([0.0, 1 / 3, 0.5, 2 / 3, 1.0], k)
        else:
            data[p, pairs] = rng.normal(size=k)
    models = np.abs(rng.normal(size=(3, n_pairs))).round(1)  # tied model values too
    return data, models


def draws(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dual-bootstrap draws: stimulus pair weights and participant multiplicities."""
    rng = np.random.default_rng(seed + 100)
    stimuli = rng.integers(0, N_STIMULI, (N_DRAWS, N_STIMULI))
    participants = rng.integers(0, N_PARTICIPANTS, (N_DRAWS, N_PARTICIPANTS))
    return stimulus_pair_weights(stimuli, N_STIMULI), draw_counts(participants, N_PARTICIPANTS)


def assert_same(new, old, exact: bool) -> None:
    new, old = np.asarray(new), np.asarray(old)
    np.testing.assert_array_equal(np.isnan(new), np.isnan(old))
    assert (~np.isnan(old)).sum() > 0.5 * old.size  # the comparison is not vacuous
    if exact:
        np.testing.assert_array_equal(new, old)
    else:
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cells_give_the_all_pairs_numbers(method, seed):
    """Rank statistics bit for bit on tied choice data (ranks and pooled sums are the same
    floats); Pearson to 1e-12 on continuous data (sums run over fewer zeros)."""
    values = "continuous" if method == "pearson" else "choices"
    data, models = sparse_data(seed, values)
    pair_w, part_w = draws(seed)
    old = SparseEngine(models, data, method)
    new = make_engine(models, data, method)
    assert isinstance(new, CellEngine)
    for scheme_pw, scheme_uw in (
        (pair_w, part_w),
        (np.ones_like(pair_w), part_w),
        (pair_w, np.ones_like(part_w)),
    ):
        for a, b in zip(
            new._bounds(scheme_pw, scheme_uw, True),
            old._bounds(scheme_pw, scheme_uw, True),
            strict=True,
        ):
            assert_same(a, b, exact=method != "pearson")
        assert_same(new.run(scheme_pw, scheme_uw)[1], old.run(scheme_pw, scheme_uw)[1], False)
    for a, b in zip(new.participant_bounds(), old.participant_bounds(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_a_simulated_triplet_study_from_its_cells(method):
    """From `ParticipantMatrices` (never made dense) as from its dense vectors, and equal to
    the all-pairs engine: a triplet study where each participant saw 15 % of the pairs."""
    truth = random_dissimilarity(24, random_state=3)
    design = Design(n_participants=10, n_trials=15)
    table, ids = choice_table(read_responses(simulate_responses(truth, design, random_state=4)))
    human = choice_matrices(table, ids).dissimilarity()
    vectors = human.vectors()
    assert 0.8 < np.isnan(vectors).mean() < 0.95
    models = np.stack([truth.upper(), truth.upper() ** 2 + np.arange(truth.upper().size) % 3])
    pair_w = stimulus_pair_weights(np.random.default_rng(6).integers(0, 24, (30, 24)), 24)
    part_w = draw_counts(np.random.default_rng(7).integers(0, 10, (30, 10)), 10)
    from_cells = make_engine(models, human, method)
    expected = SparseEngine(models, vectors, method).run(pair_w, part_w)
    for engine in (from_cells, make_engine(models, vectors, method)):
        for a, b in zip(engine.run(pair_w, part_w), expected, strict=True):
            assert_same(a, b, exact=False)


def test_complete_data_still_uses_the_dense_engine():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4, 15))
    human = ParticipantMatrices.from_dense(data, list("abcd"), [f"s{k}" for k in range(6)])
    assert isinstance(make_engine(rng.normal(size=(1, 15)), data, "spearman"), DenseEngine)
    assert isinstance(make_engine(rng.normal(size=(1, 15)), human, "spearman"), DenseEngine)


def test_pair_weight_rows_are_the_dense_weights_a_chunk_at_a_time():
    draws_ = np.random.default_rng(0).integers(0, 7, (5, 7))
    rows = PairWeightRows(draw_counts(draws_, 7))
    assert rows.shape == (5, 21)
    np.testing.assert_array_equal(rows[1:4], stimulus_pair_weights(draws_, 7)[1:4])
    data, models = sparse_data(0, "choices")
    counts = draw_counts(np.random.default_rng(1).integers(0, 20, (9, 20)), 20)
    engine = make_engine(models, data, "spearman")
    part_w = np.ones((9, N_PARTICIPANTS))
    lazy, dense = PairWeightRows(counts), PairWeightRows(counts)[:]
    for a, b in zip(engine.run(lazy, part_w), engine.run(dense, part_w), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="'counts' parameter"):
        PairWeightRows(np.array([[1.0, -1.0]]))


def test_cell_weights_are_the_pair_weights_gathered_and_zero_on_padding():
    """The compiled cells' weights (`at_cells`) equal ``at(pairs) * real`` bit for bit, from
    draws' counts and from given weight rows."""
    rng = np.random.default_rng(3)
    n = 9
    counts = draw_counts(rng.integers(0, n, (6, n)), n)
    chunk = PairWeightRows(counts).chunk(slice(None))
    pairs = rng.integers(0, n * (n - 1) // 2, (4, 5))
    real = rng.random((4, 5)) < 0.7
    stimuli = tuple(index[pairs].astype(np.int32) for index in (chunk.rows, chunk.cols))
    expected = chunk.at(pairs) * real
    np.testing.assert_array_equal(chunk.at_cells(pairs, stimuli, real), expected)
    assert (chunk.at_cells(pairs, stimuli, real)[:, ~real] == 0).all()
    given = PairWeightChunk.of_rows(chunk.at(slice(None)))
    np.testing.assert_array_equal(given.at_cells(pairs, stimuli, real), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_spearman_and_rho_a_sharing_rank_sums_give_the_all_pairs_numbers(seed):
    """The second of a Spearman / rho-a pair finishes the rank sums the first kept (it ranks
    nothing: the shared sums do not grow), bit for bit the numbers of each on its own."""
    data, models = sparse_data(seed, "choices")
    pair_w, part_w = draws(seed)
    for first, second in (("spearman", "rho-a"), ("rho-a", "spearman")):
        shared = RankSums()
        engines = {m: make_engine(models, data, m, rank_sums=shared) for m in (first, second)}
        for method in (first, second):
            kept = len(shared)
            for scheme_pw, scheme_uw in ((pair_w, part_w), (np.ones_like(pair_w), part_w)):
                new = engines[method].run(scheme_pw, scheme_uw)
                old = SparseEngine(models, data, method).run(scheme_pw, scheme_uw)
                for a, b in zip(new, old, strict=True):
                    assert_same(a, b, exact=True)
            assert (len(shared) > kept) == (method == first)
