"""Relevance map comparison between models."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from modelsvc.comparison import compare_maps


def test_identical_opposite_and_random_maps():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 10, 10))
    c = rng.normal(size=(4, 10, 10))
    result = compare_maps({"a": a, "same": a.copy(), "neg": -a, "c": c}, fractions=(0.1, 0.5))
    assert result.spearman.shape == (4, 4, 4)
    assert result.iou.shape == (4, 4, 4, 2)
    np.testing.assert_allclose(result.spearman[:, 0, 1], 1.0)
    np.testing.assert_allclose(result.pearson[:, 0, 2], -1.0)
    np.testing.assert_allclose(result.iou[:, 0, 1], 1.0)
    np.testing.assert_array_equal(result.iou[:, 0, 2, 0], 0.0)  # top 10 % vs bottom 10 %
    for image in range(4):
        flat_a, flat_c = a[image].ravel(), c[image].ravel()
        assert result.spearman[image, 0, 3] == pytest.approx(spearmanr(flat_a, flat_c)[0])
        assert result.pearson[image, 0, 3] == pytest.approx(pearsonr(flat_a, flat_c)[0])
    summary = result.summary()
    np.testing.assert_allclose(np.diagonal(summary["spearman"]), 1.0)
    np.testing.assert_allclose(summary["pearson"], summary["pearson"].T)


def test_iou_of_known_masks():
    a = np.zeros((1, 2, 5))
    b = np.zeros((1, 2, 5))
    a[0, 0, :4] = [4, 3, 2, 1]  # top 4 of 10 pixels: indices 0-3
    b[0, 0, 2:5] = [4, 3, 2]
    b[0, 1, 0] = 1  # top 4: indices 2, 3, 4, 5
    iou = compare_maps({"a": a, "b": b}, fractions=(0.4,)).iou[0, 0, 1, 0]
    assert iou == pytest.approx(2 / 6)


def test_constant_maps_give_nan_correlations_and_bad_shapes_are_errors():
    result = compare_maps({"a": np.ones((1, 3, 3)), "b": np.arange(9.0).reshape(1, 3, 3)})
    assert np.isnan(result.pearson[0, 0, 1])
    assert np.isnan(result.spearman[0, 0, 0])
    with pytest.raises(ValueError, match="'maps' parameter of compare_maps"):
        compare_maps({"a": np.ones((1, 3, 3)), "b": np.ones((1, 4, 4))})
