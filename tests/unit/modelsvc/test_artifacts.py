"""Arrays + JSON record on disk."""

import json

import numpy as np
import pytest

from modelsvc.artifacts import load_arrays, save_arrays


def test_round_trip_with_record_and_digest(tmp_path):
    arrays = {
        "maps": np.random.default_rng(0).random((2, 4, 4), dtype=np.float32),
        "targets": np.array([1, 0]),
    }
    json_path = save_arrays(
        tmp_path / "out" / "relevance.npz",
        arrays,
        {"method": "m", "code_version": "v", "stimulus_ids": ["a", "b"]},
    )
    record = json.loads(json_path.read_text())
    assert record["arrays"]["maps"] == {"dtype": "float32", "shape": [2, 4, 4]}
    assert len(record["sha256"]) == 64
    assert record["npz"] == "relevance.npz"
    loaded, loaded_record = load_arrays(tmp_path / "out" / "relevance.npz")
    np.testing.assert_array_equal(loaded["maps"], arrays["maps"])
    assert loaded_record["stimulus_ids"] == ["a", "b"]


def test_a_modified_file_is_detected(tmp_path):
    save_arrays(tmp_path / "a.npz", {"x": np.zeros(3)}, {})
    np.savez(tmp_path / "a.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="has sha256"):
        load_arrays(tmp_path / "a.npz")


def test_path_must_be_npz(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        save_arrays(tmp_path / "a.npy", {"x": np.zeros(1)}, {})
