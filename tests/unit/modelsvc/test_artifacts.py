"""Arrays + JSON record on disk."""

import hashlib
import json

import numpy as np
import pytest

from modelsvc.artifacts import load_arrays, npz_decode, npz_encode, save_arrays


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


def test_npz_bytes_are_what_save_arrays_writes_and_record(tmp_path):
    arrays = {"maps": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.array([5, 6, 7])}
    data, sha256 = npz_encode(arrays)
    record = json.loads(save_arrays(tmp_path / "a.npz", arrays, {}).read_text())
    assert (tmp_path / "a.npz").read_bytes() == data
    assert record["sha256"] == sha256 == hashlib.sha256(data).hexdigest()
    decoded = npz_decode(data, sha256=sha256, name="a.npz")
    assert decoded.keys() == arrays.keys()
    np.testing.assert_array_equal(decoded["maps"], arrays["maps"])


def test_npz_bytes_with_another_digest_are_refused():
    sha256 = npz_encode({"x": np.zeros(3)})[1]
    changed = npz_encode({"x": np.ones(3)})[0]
    with pytest.raises(
        ValueError, match=rf"'jobs/1\.npz' has sha256 \w+, but its record says {sha256}"
    ):
        npz_decode(changed, sha256=sha256, name="jobs/1.npz")
