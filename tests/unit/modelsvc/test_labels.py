"""Labels to class indices (shared by the CLI and the relevance jobs)."""

import numpy as np

from modelsvc.labels import class_indices


def test_labels_map_to_their_class_index_and_unknown_labels_to_minus_one():
    targets = class_indices(["b", "a", "c", None, "b"], ("a", "b"))
    assert targets.dtype == np.int64
    assert targets.tolist() == [1, 0, -1, -1, 1]


def test_no_labels_give_an_empty_index_array():
    assert class_indices([], ("a",)).shape == (0,)
