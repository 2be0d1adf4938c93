"""ModelSpec: JSON round trip, stable cache keys, hashing, validation."""

import json

import pytest

from modelsvc.spec import ModelSpec


def _spec(**changes):
    base = {
        "architecture": "vgg16",
        "num_classes": 2,
        "class_names": ["female", "male"],
        "layers": ["features.30"],
        "task": "gender",
        "seed": 3,
        "training": {"history": [{"epoch": 0, "val_loss": 0.5}], "val_accuracy": 0.75},
    }
    return ModelSpec(**{**base, **changes})


def test_json_round_trip_and_stable_cache_key(tmp_path):
    spec = _spec()
    restored = ModelSpec.load(spec.save(tmp_path / "spec.json"))
    assert restored == spec
    assert restored.cache_key() == spec.cache_key()
    assert isinstance(restored.input_size, tuple)
    assert isinstance(restored.class_names, tuple)
    assert json.loads(spec.to_json())["training"]["val_accuracy"] == 0.75
    assert len(spec.cache_key()) == 64


def test_any_field_change_changes_the_key_and_specs_are_hashable():
    spec = _spec()
    assert _spec(seed=4).cache_key() != spec.cache_key()
    assert _spec(mean=(0.5, 0.5, 0.5)).cache_key() != spec.cache_key()
    cache = {spec: "model"}
    assert cache[_spec()] == "model"  # equal specs hit the same cache entry
    assert hash(spec) == hash(_spec())


def test_relative_weights_path_is_resolved_against_the_spec_file(tmp_path):
    (tmp_path / "sub").mkdir()
    data = _spec().to_dict() | {"weights_path": "model.pt", "weights_format": "checkpoint"}
    (tmp_path / "sub" / "spec.json").write_text(json.dumps(data))
    spec = ModelSpec.load(tmp_path / "sub" / "spec.json")
    assert spec.weights_path == str((tmp_path / "sub" / "model.pt").resolve())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_classes": 0}, "'num_classes' parameter of ModelSpec"),
        ({"class_names": ["a", "b", "c"]}, "'class_names' parameter of ModelSpec"),
        ({"input_size": (224,)}, "'input_size' parameter of ModelSpec"),
        ({"std": (0.2, 0.0, 0.2)}, "'std' parameter of ModelSpec"),
        ({"weights_path": "w.pt"}, "'weights_format' parameter of ModelSpec"),
        ({"weights_path": "w.pt", "weights_format": "onnx"}, "'weights_format' parameter"),
        ({"architecture": ""}, "'architecture' parameter of ModelSpec"),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_named(changes, message):
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


def test_unknown_keys_are_listed():
    with pytest.raises(ValueError, match=r"unknown keys \['colour'\]"):
        ModelSpec.from_dict(_spec().to_dict() | {"colour": "red"})
