"""analysis.dissection on hand-computed counts (pure numpy)."""

from types import SimpleNamespace

import numpy as np
import pytest

from analysis.dissection import (
    attribute_iou,
    compare_accuracy_gaps,
    global_auc,
    pair_units,
    part_iou,
)


def _counts():
    # two images, one unit, parts (a, b)
    return SimpleNamespace(
        intersection=np.array([[[2, 0]], [[1, 1]]]),
        activated=np.array([[3], [2]]),
        part_area=np.array([[4, 4], [4, 2]]),
        response=np.array([[0.5], [0.7]]),
    )


def test_part_iou_sums_over_images_before_dividing():
    # part a: overlap 3, union 5 + 8 - 3 = 10; part b: overlap 1, union 5 + 6 - 1 = 10
    np.testing.assert_allclose(part_iou(_counts()), [[0.3, 0.1]])
    # weights 2 and 0 (image 0 drawn twice): overlap 4, union 6 + 8 - 4 = 10
    np.testing.assert_allclose(part_iou(_counts(), np.array([2.0, 0.0])), [[0.4, 0.0]])


def test_attribute_iou_uses_the_part_mask_on_positive_images_only():
    # attribute of part a on image 1 only: overlap 1, union 5 + 4 - 1 = 8
    np.testing.assert_allclose(attribute_iou(_counts(), 0, np.array([False, True])), [0.125])
    stacked = attribute_iou(_counts(), 0, np.array([[False, True], [True, False]]))
    np.testing.assert_allclose(stacked, [[0.125], [2 / 7]])


def test_global_auc_against_hand_computed_mann_whitney():
    response = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 2.0], [4.0, 2.0]])
    np.testing.assert_allclose(global_auc(response, np.array([0, 0, 1, 1], bool)), [1.0, 1.0])
    # positives ranked 1 and 3 of 4: U = 4 - 3 = 1 of 4 pairs; ties count half (0.5)
    np.testing.assert_allclose(global_auc(response, np.array([1, 0, 1, 0], bool)), [0.25, 0.5])


def test_pair_units_rejects_bad_parameters_and_mismatched_counts():
    dictionary = SimpleNamespace(part_names=("a", "b"), local={}, global_={})
    with pytest.raises(ValueError, match=r"The 'alpha' parameter of pair_units must be"):
        pair_units(_counts(), dictionary, alpha=0.0)
    bad = _counts()
    bad.response = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"'counts' parameter of pair_units must be response"):
        pair_units(bad, dictionary)
    with pytest.raises(ValueError, match=r"'dictionary' parameter of pair_units must be 2 parts"):
        pair_units(_counts(), SimpleNamespace(part_names=("a",), local={}, global_={}))


def test_accuracy_gap_difference_and_its_interval():
    agree = np.tile([True, False], 50)
    groups = np.repeat(np.arange(50), 2)
    rng = np.random.default_rng(0)
    fair = rng.random((2, 100)) < 0.8
    biased = np.where(agree, rng.random((2, 100)) < 0.95, rng.random((2, 100)) < 0.4)
    result = compare_accuracy_gaps(fair, biased, agree=agree, groups=groups, random_state=0)
    expected = (biased[:, agree].mean() - biased[:, ~agree].mean()) - (
        fair[:, agree].mean() - fair[:, ~agree].mean()
    )
    assert result["difference"] == pytest.approx(expected)
    assert result["low"] > 0.3
    same = compare_accuracy_gaps(fair, fair, agree=agree, random_state=0)
    assert (same["difference"], same["low"], same["high"]) == (0, 0, 0)
    with pytest.raises(ValueError, match="'agree' parameter of compare_accuracy_gaps"):
        compare_accuracy_gaps(fair, fair, agree=np.ones(100, bool))
    with pytest.raises(ValueError, match="'second' parameter of compare_accuracy_gaps"):
        compare_accuracy_gaps(fair, fair[:, :10], agree=agree)
