"""Finetuning: stratified grouped splits, frozen layers, records, determinism."""

import numpy as np
import pytest
import torch

from modelsvc.finetuning import (
    FinetuneSettings,
    _run_trunk,
    _train,
    balanced_accuracy,
    default_split_seed,
    finetune,
    stratified_split,
)
from modelsvc.images import read_metadata
from modelsvc.spec import ModelSpec
from modelsvc.weights import build_model, load_model, save_checkpoint
from tests.unit.modelsvc.helpers import RunsOutOfMemoryAbove


def test_grouped_split_keeps_groups_whole_and_every_label_in_both_sides():
    labels = ["f"] * 12 + ["m"] * 24
    groups = [f"id{i // 3}" for i in range(36)]  # 4 female and 8 male identities
    train, val = stratified_split(labels, groups, 0.25, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(36))
    val_groups = {groups[i] for i in val}
    assert not val_groups & {groups[i] for i in train}
    assert sorted(labels[i] for i in val).count("f") == 3  # round(0.25 * 4) identities
    assert sorted(labels[i] for i in val).count("m") == 6  # round(0.25 * 8)
    again, _ = stratified_split(labels, groups, 0.25, seed=0)
    other, _ = stratified_split(labels, groups, 0.25, seed=1)
    assert np.array_equal(train, again)
    assert not np.array_equal(train, other)


def test_ungrouped_split_is_stratified_per_label():
    labels = [f"id{i % 5}" for i in range(20)]  # identity task: 4 images each
    train, val = stratified_split(labels, None, 0.25, seed=0)
    assert sorted(labels[i] for i in val) == [f"id{i}" for i in range(5)]
    assert len(train) == 15


def test_balanced_accuracy_is_mean_recall():
    true = np.array([0, 0, 0, 0, 1, 1])
    assert balanced_accuracy(true, np.array([0, 0, 0, 0, 0, 0])) == 0.5
    assert balanced_accuracy(true, np.array([0, 0, 1, 1, 1, 1])) == 0.75


def _settings(**changes):
    base = {
        "label_column": "colour",
        "seed": 0,
        "max_epochs": 6,
        "patience": 3,
        "batch_size": 4,
        "val_fraction": 0.4,
    }
    return FinetuneSettings(**{**base, **changes})


def test_head_finetuning_freezes_the_trunk_and_records_training(image_folder, tmp_path):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base_spec = ModelSpec("small_cnn", 7, input_size=(24, 24), seed=3, name="base")
    base = save_checkpoint(tmp_path / "base.pt", build_model(base_spec), base_spec)
    epochs = []
    result = finetune(
        base,
        items,
        _settings(train_last=1),
        device="cpu",
        progress=False,
        on_epoch=lambda done, total: epochs.append((done, total)),
    )
    spec = result.spec
    assert spec.num_classes == 2
    assert spec.class_names == ("a", "b")
    assert spec.task == "colour"
    assert spec.parent == base.cache_key()
    assert spec.weights_path is None
    record = spec.training
    assert record["group_column"] == "identity"
    val_ids = set(record["split"]["val"])
    assert len(val_ids) == 4
    assert not val_ids & set(record["split"]["train"])
    assert 1 <= len(record["history"]) <= 6
    assert epochs == [(n, 6) for n in range(1, len(record["history"]) + 1)]  # progress per epoch
    assert record["val_accuracy"] == record["history"][record["best_epoch"]]["val_accuracy"]
    original = load_model(base)
    assert torch.equal(result.model.features[0].weight, original.features[0].weight)
    assert torch.equal(result.model.classifier[0].weight, original.classifier[0].weight)
    assert result.model.classifier[3].out_features == 2
    assert not result.model.training


def test_training_all_layers_changes_them_and_is_deterministic(image_folder):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base = ModelSpec("small_cnn", 1, input_size=(24, 24), seed=1)
    first = finetune(base, items, _settings(train_last=None), progress=False)
    second = finetune(base, items, _settings(train_last=None), progress=False)
    other = finetune(base, items, _settings(train_last=None, seed=1), progress=False)
    untrained = build_model(base)
    assert not torch.equal(first.model.features[0].weight, untrained.features[0].weight)
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first.spec.training == second.spec.training
    assert not torch.equal(first.model.classifier[3].weight, other.model.classifier[3].weight)


def test_the_seed_changes_the_weights_but_not_the_split_which_has_its_own_seed(image_folder):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base = ModelSpec("small_cnn", 1, input_size=(24, 24), seed=1)
    first = finetune(base, items, _settings(seed=1, max_epochs=2), progress=False)
    second = finetune(base, items, _settings(seed=2, max_epochs=2), progress=False)
    assert first.spec.training["split"] == second.spec.training["split"]
    head = [r.model.classifier[3].weight for r in (first, second)]
    assert not torch.equal(*head)
    assert first.spec.training["settings"]["split_seed"] == default_split_seed("colour")
    resplit = finetune(base, items, _settings(seed=1, split_seed=7, max_epochs=2), progress=False)
    assert resplit.spec.training["split"] != first.spec.training["split"]
    assert default_split_seed("colour") != default_split_seed("identity")
    with pytest.raises(ValueError, match="'split_seed' parameter of FinetuneSettings"):
        _settings(split_seed=-1)


def test_unreadable_images_are_skipped_and_recorded(image_folder):
    (image_folder / "img09.png").write_bytes(b"not a png")
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base = ModelSpec("small_cnn", 1, input_size=(24, 24))
    result = finetune(base, items, _settings(max_epochs=1), progress=False)
    skipped = result.spec.training["skipped"]
    assert [s["key"] for s in skipped] == ["img09.png"]
    assert "img09.png" in skipped[0]["error"]


def test_bad_requests_are_named(image_folder):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base = ModelSpec("small_cnn", 1, input_size=(24, 24))
    with pytest.raises(ValueError, match="'label_column' 'gender' is missing"):
        finetune(base, items, _settings(label_column="gender"), progress=False)
    with pytest.raises(ValueError, match="'train_last' parameter must be at most"):
        finetune(base, items, _settings(train_last=9), progress=False)
    with pytest.raises(ValueError, match="'val_fraction' parameter of FinetuneSettings"):
        _settings(val_fraction=0.0)


def test_trunk_features_survive_an_out_of_memory_by_halving_the_batch():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 4, 3)
    inputs = torch.rand(10, 3, 8, 8)
    fragile = RunsOutOfMemoryAbove(layer, limit=3)
    features = _run_trunk(torch.nn.Sequential(fragile), inputs, "cpu", 8)
    assert fragile.sizes[:3] == [8, 4, 2]  # 8 and 4 fail, then batches of 2
    torch.testing.assert_close(features, _run_trunk(torch.nn.Sequential(layer), inputs, "cpu", 8))


def test_training_steps_halve_the_batch_on_out_of_memory_and_keep_it():
    torch.manual_seed(0)
    features, y = torch.randn(40, 6), torch.tensor([0, 1] * 20)
    train, val = np.arange(30), np.arange(30, 40)
    settings = FinetuneSettings("gender", max_epochs=3, patience=5, batch_size=16)
    top = RunsOutOfMemoryAbove(torch.nn.Linear(6, 2), limit=5)
    history, _ = _train(top, features, y, train, val, settings, "cpu", False, None)
    assert [h["batch_size"] for h in history] == [4, 4, 4]  # 16 and 8 failed, 4 fits
    assert top.sizes[:3] == [16, 8, 4]
    assert all(np.isfinite(h["train_loss"]) for h in history)


def test_a_dlib_base_gets_a_classifier_on_its_descriptor_which_saves_and_reloads(
    image_folder, tmp_path
):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    base = ModelSpec("dlib_resnet29", 128, input_size=(150, 150), seed=2)  # random weights
    result = finetune(base, items, _settings(max_epochs=2, train_last=2), progress=False)
    spec = result.spec
    assert spec.architecture == "dlib_resnet29_head"
    assert spec.num_classes == 2
    original = build_model(base)
    model = result.model
    assert model.classifier.in_features == 128
    assert model.classifier.bias is not None
    assert torch.equal(model.layers[13].residual[0].weight, original.layers[13].residual[0].weight)
    assert not torch.equal(model.fc.weight, original.fc.weight)  # train_last=2: fc trained too
    saved = save_checkpoint(tmp_path / "child.pt", model, spec)
    images = torch.rand(2, 3, 150, 150, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(load_model(saved)(images), model(images))
    with pytest.raises(ValueError, match=r"at most the number of conv/linear layers"):
        finetune(base, items, _settings(train_last=19), progress=False)  # 14 blocks + 3
