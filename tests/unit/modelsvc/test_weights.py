"""Weights from local files: torchvision state dicts, checkpoints, converted VGG-Face."""

import pytest
import torch

from modelsvc.spec import ModelSpec
from modelsvc.weights import (
    VGG_FACE_DAG_LAYERS,
    WeightsMismatchError,
    build_model,
    load_model,
    save_checkpoint,
)

VGG_FACE = ModelSpec("vgg16", 2622, weights_path="x", weights_format="vgg_face_dag")


def _vgg_face_state(device="cpu", fc_as_conv=False):
    """A state dict in vgg_face_dag layout with the real shapes (random values)."""
    generator = torch.Generator().manual_seed(0) if device == "cpu" else None
    with torch.device("meta"):  # shapes only
        shapes = build_model(VGG_FACE.replace(weights_path=None, weights_format=None)).state_dict()
    state = {}
    for layer, module in VGG_FACE_DAG_LAYERS.items():
        for kind in ("weight", "bias"):
            shape = shapes[f"{module}.{kind}"].shape
            if fc_as_conv and layer == "fc6" and kind == "weight":
                shape = (4096, 512, 7, 7)
            if device == "meta":
                state[f"{layer}.{kind}"] = torch.empty(shape, device="meta")
            else:
                state[f"{layer}.{kind}"] = torch.randn(shape, generator=generator)
    return state


@pytest.mark.slow
def test_vgg_face_dag_weights_land_in_the_matching_torchvision_layers(tmp_path):
    state = _vgg_face_state(fc_as_conv=True)
    torch.save(state, tmp_path / "vgg_face_dag.pth")
    model = load_model(VGG_FACE.replace(weights_path=str(tmp_path / "vgg_face_dag.pth")))
    params = dict(model.named_parameters())
    assert torch.equal(params["features.0.weight"], state["conv1_1.weight"])
    assert torch.equal(params["features.12.bias"], state["conv3_2.bias"])
    assert torch.equal(params["features.28.weight"], state["conv5_3.weight"])
    assert torch.equal(params["classifier.0.weight"], state["fc6.weight"].reshape(4096, 25088))
    assert torch.equal(params["classifier.3.weight"], state["fc7.weight"])
    assert torch.equal(params["classifier.6.bias"], state["fc8.bias"])
    assert not model.training


def test_mismatching_vgg_face_file_lists_every_problem(tmp_path):
    state = _vgg_face_state(device="meta")
    state["conv3_2_renamed.weight"] = state.pop("conv3_2.weight")
    del state["fc7.bias"]
    state["fc8.weight"] = torch.empty(1000, 4096, device="meta")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(WeightsMismatchError) as caught:
        load_model(VGG_FACE.replace(weights_path=str(tmp_path / "broken.pth")))
    error = caught.value
    assert error.missing == ["conv3_2.weight", "fc7.bias"]
    assert error.unexpected == ["conv3_2_renamed.weight"]
    assert error.shape_conflicts == {"fc8.weight": ((1000, 4096), (2622, 4096))}
    message = str(error)
    assert "broken.pth" in message
    assert "conv3_2_renamed.weight" in message
    assert "fc8.weight: file [1000, 4096] vs model [2622, 4096]" in message


def test_torchvision_state_dict_loads_and_mismatch_is_reported(tmp_path):
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32), seed=1)
    source = build_model(spec)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    loaded = load_model(
        spec.replace(seed=2, weights_path=str(tmp_path / "w.pth"), weights_format="torchvision")
    )
    inputs = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded(inputs), source.eval()(inputs), rtol=0, atol=0)
    state = source.state_dict()
    state["classifier.3.weight"] = torch.zeros(5, 128)
    del state["features.0.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsMismatchError, match=r"Missing keys: \['features.0.bias'\]"):
        load_model(
            spec.replace(weights_path=str(tmp_path / "bad.pth"), weights_format="torchvision")
        )


def test_checkpoint_round_trip_records_the_digest(tmp_path):
    spec = ModelSpec("small_cnn", 2, class_names=("a", "b"), input_size=(32, 32), seed=4)
    model = build_model(spec)
    saved = save_checkpoint(tmp_path / "model.pt", model, spec)
    assert saved.weights_format == "checkpoint"
    assert len(saved.weights_sha256) == 64
    reloaded = load_model(saved)
    inputs = torch.rand(1, 3, 32, 32)
    assert torch.equal(reloaded(inputs), model.eval()(inputs))
    (tmp_path / "model.pt").write_bytes((tmp_path / "model.pt").read_bytes() + b"\0")
    with pytest.raises(ValueError, match=r"has sha256 \w+, but the spec expects"):
        load_model(saved)


def test_checkpoint_for_another_architecture_is_refused(tmp_path):
    spec = ModelSpec("small_cnn", 2, input_size=(32, 32))
    saved = save_checkpoint(tmp_path / "model.pt", build_model(spec), spec)
    with pytest.raises(ValueError, match="holds a small_cnn with 2 classes"):
        load_model(saved.replace(num_classes=3, weights_sha256=None))


def test_common_training_checkpoint_layout_with_dataparallel_prefix(tmp_path):
    spec = ModelSpec("small_cnn", 2, input_size=(32, 32))
    model = build_model(spec)
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 7, "state_dict": wrapped}, tmp_path / "train.ckpt")
    loaded = load_model(
        spec.replace(weights_path=str(tmp_path / "train.ckpt"), weights_format="checkpoint")
    )
    assert torch.equal(loaded.features[0].weight, model.features[0].weight)


def test_unreadable_or_pickled_module_files_are_refused(tmp_path):
    spec = ModelSpec("small_cnn", 2, input_size=(32, 32))
    torch.save(build_model(spec), tmp_path / "module.pt")  # a whole pickled nn.Module
    with pytest.raises(ValueError, match="whole pickled modules are refused"):
        load_model(
            spec.replace(weights_path=str(tmp_path / "module.pt"), weights_format="torchvision")
        )
    with pytest.raises(ValueError, match="does not exist"):
        load_model(
            spec.replace(weights_path=str(tmp_path / "none.pt"), weights_format="torchvision")
        )
