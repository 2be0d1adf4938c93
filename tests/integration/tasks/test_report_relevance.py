"""The report's relevance inputs when the study's models explain images at different sizes."""

from types import SimpleNamespace

import numpy as np
import pytest

from studyapp.storage import store_arrays
from tasks.computations.report import relevance_maps
from tests.factories import make_stimulus_set

pytestmark = pytest.mark.django_db


def relevance_artifact(name, stimulus_ids, size):
    maps = np.zeros((len(stimulus_ids), size, size), np.float32)
    maps[:, : size // 2] = 1.0  # all relevance in the top half
    file, sha = store_arrays(name, {"maps": maps, "stimulus_ids": np.array(stimulus_ids)})
    return SimpleNamespace(file=SimpleNamespace(name=file), sha256=sha)


def test_maps_of_different_sizes_are_brought_to_one_size_keeping_where_relevance_is():
    stimulus_set = make_stimulus_set(4)
    ids = list(stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    small, large = SimpleNamespace(pk=1, name="small"), SimpleNamespace(pk=2, name="large")
    artifacts = {
        "models": [small, large],
        "relevance": {
            1: relevance_artifact("artifacts/test/small.npz", ids, 16),
            2: relevance_artifact("artifacts/test/large.npz", ids[::-1], 32),
        },
        "stimulus_set": stimulus_set,
    }

    inputs = relevance_maps(artifacts)

    assert set(inputs["relevance"]) == {"small", "large"}
    for maps in inputs["relevance"].values():
        assert maps.shape == (4, 16, 16)  # the first model's size
        top, bottom = maps[:, :8].sum(), maps[:, 8:].sum()
        assert bottom < 0.1 * top  # relevance stays in the top half
    assert inputs["images"].shape[1:] == (16, 16)
    assert inputs["image_ids"] == [s.name for s in stimulus_set.stimuli.order_by("pk")]
