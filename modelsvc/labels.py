"""Labels to class indices: the targets of relevance and masking from a metadata column."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_indices(labels: Sequence[str | None], class_names: Sequence[str]) -> np.ndarray:
    """Index of each label in `class_names` (int64); -1 where a label is not a class.

    Callers decide what an unknown label means: the CLI refuses the run, a job fails only
    the stimuli concerned.
    """
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index.get(label, -1) for label in labels], dtype=np.int64)
