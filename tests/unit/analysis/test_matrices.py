"""Containers: validation, ids, missing pairs, pooling and long-table converters."""

import numpy as np
import pandas as pd
import pytest

from analysis.matrices import (
    ParticipantMatrices,
    SimilarityMatrix,
    n_from_pairs,
    upper_indices,
    vector_to_square,
)
from tests.unit.analysis.helpers import stimuli


def test_vector_order_is_rsatoolbox_upper_triangle():
    from rsatoolbox.rdm import RDMs

    v = np.arange(1.0, 11.0)
    m = SimilarityMatrix.from_vector(v, stimuli(5))
    np.testing.assert_array_equal(m.upper(), v)
    np.testing.assert_array_equal(RDMs(v).get_matrices()[0], m.values)
    assert n_from_pairs(10) == 5
    with pytest.raises(ValueError, match="'n_pairs' parameter of n_from_pairs"):
        n_from_pairs(11)


def test_missing_pairs_need_counts_and_counts_must_match():
    values = vector_to_square(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="'counts' parameter of SimilarityMatrix"):
        SimilarityMatrix(values, stimuli(3))
    counts = vector_to_square(np.array([2.0, 0.0, 1.0])).astype(int)
    m = SimilarityMatrix(values, stimuli(3), counts=counts)
    assert m.n_missing_pairs == 1
    bad = counts.copy()
    bad[0, 1] = bad[1, 0] = 0
    with pytest.raises(ValueError, match="0 exactly where values are NaN"):
        SimilarityMatrix(values, stimuli(3), counts=bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": np.ones((3, 4))}, "square matrices"),
        ({"values": np.array([[0, 1, 2], [1, 0, 3], [5, 3, 0.0]])}, "symmetric"),
        ({"stimuli": ["a", "b"]}, "3 ids"),
        ({"stimuli": ["a", "a", "b"]}, "unique ids"),
        ({"kind": "distance"}, "'kind' parameter"),
    ],
)
def test_similarity_matrix_rejects_bad_input(kwargs, match):
    args = {"values": vector_to_square(np.array([1.0, 2, 3])), "stimuli": ["a", "b", "c"]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SimilarityMatrix(**args)


def test_reorder_subset_and_long_roundtrip():
    m = SimilarityMatrix.from_vector(np.arange(1.0, 7.0), ["a", "b", "c", "d"], name="x")
    r = m.reorder(["d", "b"])
    assert r.stimuli == ("d", "b")
    assert r.values[0, 1] == m.values[3, 1]
    long = m.to_long()
    back = SimilarityMatrix.from_long(long, stimuli=m.stimuli)
    np.testing.assert_array_equal(back.values, m.values)
    partial = SimilarityMatrix.from_long(long.iloc[:4], stimuli=m.stimuli)
    assert partial.n_missing_pairs == 2  # absent pairs are missing, not zero
    with pytest.raises(ValueError, match="ids present in the matrix"):
        m.reorder(["a", "zz"])
    dup = pd.concat(
        [
            long,
            long.iloc[[0]].rename(columns={"stimulus_1": "stimulus_2", "stimulus_2": "stimulus_1"}),
        ]
    )
    with pytest.raises(ValueError, match="each pair at most once"):
        SimilarityMatrix.from_long(dup)


def test_similarity_to_dissimilarity_requires_proportions():
    s = SimilarityMatrix.from_vector(np.array([0.2, 0.5, 0.9]), stimuli(3), kind="similarity")
    np.testing.assert_allclose(s.dissimilarity().upper(), [0.8, 0.5, 0.1])
    assert np.isnan(s.values[0, 0])
    assert s.dissimilarity().values[0, 0] == 0
    bad = SimilarityMatrix.from_vector(np.array([2.0, 0.5, 0.9]), stimuli(3), kind="similarity")
    with pytest.raises(ValueError, match=r"0\.\.1 scale"):
        bad.dissimilarity()


def participant_example():
    # participant 0 judged pairs 0 and 1 (pair 1 twice); participant 1 judged pairs 1 and 2
    return ParticipantMatrices(
        participant_index=[0, 0, 1, 1],
        pair_index=[0, 1, 1, 2],
        sums=[1.0, 1.0, 0.0, 3.0],
        counts=[1, 2, 1, 3],
        participants=["p0", "p1"],
        stimuli=["a", "b", "c"],
        kind="similarity",
        pooling="count_weighted",
    )


def test_participant_matrices_pool_by_counts_or_participant_means():
    pm = participant_example()
    vec = pm.vectors()
    np.testing.assert_allclose(vec, [[1.0, 0.5, np.nan], [np.nan, 0.0, 1.0]])
    group = pm.group()
    np.testing.assert_allclose(group.upper(), [1.0, 1.0 / 3.0, 1.0])  # (1+0)/(2+1)
    np.testing.assert_array_equal(group.upper_counts(), [1, 3, 3])
    means = ParticipantMatrices(
        pm.participant_index,
        pm.pair_index,
        pm.sums,
        pm.counts,
        pm.participants,
        pm.stimuli,
        "similarity",
        "participant_mean",
    )
    np.testing.assert_allclose(means.group().upper(), [1.0, 0.25, 1.0])  # mean of 0.5 and 0
    weighted, n_obs = pm.group_vectors(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(weighted, vec)
    np.testing.assert_array_equal(n_obs, [[1, 2, 0], [0, 1, 3]])


def test_participant_matrices_subset_dense_roundtrip_and_long():
    pm = participant_example()
    sub = pm.subset(["p1"])
    np.testing.assert_allclose(sub.vectors(), [[np.nan, 0.0, 1.0]])
    dense = ParticipantMatrices.from_dense(
        pm.matrices(), pm.participants, pm.stimuli, kind="similarity", counts=None
    )
    np.testing.assert_allclose(dense.vectors(), pm.vectors())
    long = pm.to_long()
    assert list(long.columns) == ["participant", "stimulus_1", "stimulus_2", "value", "count"]
    assert len(long) == 4
    dis = pm.dissimilarity()
    np.testing.assert_allclose(dis.vectors(), 1 - pm.vectors())


def test_participant_matrices_validate_cells():
    with pytest.raises(ValueError, match="each \\(participant, pair\\) cell once"):
        ParticipantMatrices([0, 0], [1, 1], [1.0, 1.0], [1, 1], ["p"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="positive counts"):
        ParticipantMatrices([0], [1], [1.0], [0], ["p"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="'pair_index' parameter"):
        ParticipantMatrices([0], [3], [1.0], [1], ["p"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="'weights' parameter"):
        participant_example().group_vectors(np.ones((1, 3)))


def test_upper_indices_are_cached_and_read_only():
    rows, _cols = upper_indices(4)
    assert upper_indices(4)[0] is rows
    with pytest.raises(ValueError, match="read-only"):
        rows[0] = 3
