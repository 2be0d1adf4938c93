"""What a weights file says about its model, and plain words for files that are not weights."""

import pytest
import torch

from modelsvc.builtin import builtin_spec, get_builtin
from modelsvc.spec import ModelSpec
from modelsvc.weights import VGG_FACE_DAG_LAYERS, VGG_FACE_MEAN, build_model, save_checkpoint
from modelsvc.weights_inspect import inspect_weights

SMALL = ModelSpec("small_cnn", 3, input_size=(32, 32))


def test_a_checkpoint_tells_its_architecture_classes_and_validation_accuracy(tmp_path):
    spec = SMALL.replace(
        class_names=("a", "b", "c"), task="identity", seed=4, training={"val_accuracy": 0.875}
    )
    save_checkpoint(tmp_path / "model.pt", build_model(spec), spec)
    info = inspect_weights(tmp_path / "model.pt")
    assert info.weights_format == "checkpoint"
    assert (info.spec.architecture, info.spec.num_classes) == ("small_cnn", 3)
    assert info.spec.class_names == ("a", "b", "c")
    assert (info.spec.task, info.spec.seed, info.spec.input_size) == ("identity", 4, (32, 32))
    assert info.val_accuracy == 0.875
    assert "0.88" in info.summary


def test_a_state_dict_is_matched_to_the_architecture_by_its_shapes(tmp_path):
    torch.save(build_model(SMALL.replace(num_classes=5)).state_dict(), tmp_path / "sd.pth")
    info = inspect_weights(tmp_path / "sd.pth")
    assert info.weights_format == "torchvision"
    assert (info.spec.architecture, info.spec.num_classes) == ("small_cnn", 5)
    assert info.val_accuracy is None


def test_a_training_checkpoint_with_a_dataparallel_prefix_is_a_checkpoint(tmp_path):
    state = {f"module.{k}": v for k, v in build_model(SMALL).state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state}, tmp_path / "train.ckpt")
    info = inspect_weights(tmp_path / "train.ckpt")
    assert (info.weights_format, info.spec.architecture, info.spec.num_classes) == (
        "checkpoint",
        "small_cnn",
        3,
    )


def test_vgg_face_dag_is_recognised_with_its_class_count_and_normalisation(tmp_path):
    state = {
        f"{layer}.{kind}": torch.zeros(2)
        for layer in VGG_FACE_DAG_LAYERS
        for kind in ("weight", "bias")
    }
    state["fc8.weight"] = torch.zeros(2622, 4)
    torch.save(state, tmp_path / "vgg_face_dag.pth")
    info = inspect_weights(tmp_path / "vgg_face_dag.pth")
    assert (info.weights_format, info.spec.architecture, info.spec.num_classes) == (
        "vgg_face_dag",
        "vgg16",
        2622,
    )
    assert info.spec.mean == pytest.approx(VGG_FACE_MEAN)


def test_a_dlib_network_file_is_recognised_by_its_header(tmp_path):
    (tmp_path / "net.dat").write_bytes(b"\x01\x01\x0closs_metric_" + bytes(100))
    info = inspect_weights(tmp_path / "net.dat")
    assert (info.weights_format, info.spec.architecture, info.spec.num_classes) == (
        "dlib_dat",
        "dlib_resnet29",
        128,
    )


def test_files_that_are_not_weights_get_plain_words_without_folders(tmp_path):
    for text in ("hello, not tensors", "not tensors", "PK\x03\x04 a zip of something else"):
        (tmp_path / "notes.txt").write_text(text)
        with pytest.raises(ValueError, match=r"^notes.txt: this is not a PyTorch weights file.$"):
            inspect_weights(tmp_path / "notes.txt")
    torch.save(build_model(SMALL), tmp_path / "module.pt")
    with pytest.raises(ValueError, match="whole pickled modules are refused") as error:
        inspect_weights(tmp_path / "module.pt")
    assert str(tmp_path) not in str(error.value)
    assert "weights_only" not in str(error.value)
    torch.save({"a.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="fit none of the known architectures"):
        inspect_weights(tmp_path / "other.pt")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list, not a dictionary"):
        inspect_weights(tmp_path / "list.pt")


def test_dlibs_own_files_the_face_recognition_network_and_not_the_detector():
    recognition = get_builtin("dlib_resnet29").weights_path()
    info = inspect_weights(recognition)
    assert info.spec == builtin_spec("dlib_resnet29").replace(
        weights_path=None, weights_format=None, weights_sha256=None, name="", layers=()
    )  # the same architecture, output size and preprocessing
    detector = recognition.with_name("mmod_human_face_detector.dat")
    with pytest.raises(ValueError, match="this is not a PyTorch weights file"):
        inspect_weights(detector)
