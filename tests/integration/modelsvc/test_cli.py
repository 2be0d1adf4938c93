"""Every `python -m modelsvc` subcommand, run as a subprocess on a tiny generated face set."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import facegen
from modelsvc.artifacts import load_arrays
from modelsvc.spec import ModelSpec
from modelsvc.weights import build_model

pytestmark = pytest.mark.slow  # each command is a fresh Python with torch (~4 s)

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args, expect=0):
    result = subprocess.run(
        [sys.executable, "-m", "modelsvc", *map(str, args), "--quiet"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == expect, result.stderr
    return json.loads(result.stdout) if expect == 0 else result.stderr


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "faces"
    facegen.write_dataset(root, n_identities=6, images_per_identity=3, size=32, seed=1)
    (root / "images" / "id05_v2.png").write_bytes(b"corrupt")  # one unreadable image
    return root


@pytest.fixture(scope="module")
def models(faces):
    out = faces.parent
    common = [
        "--images",
        faces / "images",
        "--metadata",
        faces / "metadata.csv",
        "--base",
        "small_cnn",
        "--input-size",
        32,
        32,
        "--train-all",
        "--epochs",
        3,
    ]
    glasses = run("finetune", *common, "--label-column", "glasses", "--out", out / "glasses")
    gender = run(
        "finetune", *common, "--label-column", "gender", "--seed", 1, "--out", out / "gender"
    )
    return {"glasses": glasses, "gender": gender}


@pytest.fixture(scope="module")
def relevance(faces, models):
    outputs = {}
    for name, summary in models.items():
        outputs[name] = run(
            "relevance",
            "--model",
            summary["spec"],
            "--images",
            faces / "images",
            "--metadata",
            faces / "metadata.csv",
            "--out",
            faces.parent / f"relevance_{name}",
        )
    return outputs


def test_finetune_writes_checkpoint_and_spec(models):
    spec = ModelSpec.load(models["gender"]["spec"])
    assert spec.task == "gender"
    assert spec.class_names == ("female", "male")
    assert spec.training["skipped"][0]["key"] == "id05_v2.png"
    assert len(spec.training["history"]) == models["gender"]["epochs_run"] <= 3
    assert Path(spec.weights_path).name == "model.pt"
    assert 0.0 <= models["gender"]["val_accuracy"] <= 1.0


def test_relevance_writes_maps_and_record(relevance):
    arrays, record = load_arrays(relevance["glasses"]["relevance"])
    assert arrays["maps"].shape == (17, 32, 32)
    assert arrays["maps"].dtype == np.float32
    assert record["backend"] == ["fast"]
    assert record["target_source"] == "labels"
    assert record["method"] == "epsilon_plus_flat"
    assert [f["path"].endswith("id05_v2.png") for f in record["failed"]] == [True]
    assert "id05_v2.png" not in record["stimulus_ids"]
    assert len(record["stimulus_ids"]) == 17


def test_embed_writes_float16_embeddings_and_dissimilarities(faces, models, tmp_path):
    summary = run(
        "embed",
        "--model",
        models["glasses"]["spec"],
        "--images",
        faces / "images",
        "--layers",
        "features.11,classifier.1",
        "--metric",
        "cosine",
        "--out",
        tmp_path,
    )
    assert summary["images"] == 17
    assert summary["failed"] == 1
    embeddings, record = load_arrays(tmp_path / "embeddings.npz")
    assert embeddings["classifier.1"].dtype == np.float16
    assert embeddings["features.11"].shape == (17, 64)
    matrices, matrix_record = load_arrays(tmp_path / "dissimilarity.npz")
    assert matrices["classifier.1"].shape == (17, 17)
    assert matrix_record["metric"] == "cosine"
    assert record["stimulus_ids"] == matrix_record["stimulus_ids"]


def test_mask_writes_the_generalisation_matrix(faces, relevance, models, tmp_path):
    summary = run(
        "mask",
        "--images",
        faces / "images",
        "--model",
        models["glasses"]["spec"],
        models["gender"]["spec"],
        "--relevance",
        relevance["glasses"]["relevance"],
        relevance["gender"]["relevance"],
        "--fractions",
        "0.1,0.5",
        "--mode",
        "remove",
        "--fill",
        "noise",
        "--baselines",
        "random,center",
        "--out",
        tmp_path,
    )
    assert summary["sources"][2:] == ["random", "center"]
    arrays, record = load_arrays(tmp_path / "masking.npz")
    assert arrays["accuracy"].shape == (4, 2, 2)
    assert arrays["correct"].shape == (4, 2, 17, 2)
    np.testing.assert_array_equal(arrays["asymmetry"], -arrays["asymmetry"].transpose(1, 0, 2))
    assert record["parameters"]["mode"] == "remove"
    assert record["parameters"]["pixel_counts"] == [102, 512]


def test_mask_with_mean_fill_records_the_dataset_mean(faces, relevance, models, tmp_path):
    run(
        "mask",
        "--images",
        faces / "images",
        "--model",
        models["glasses"]["spec"],
        "--relevance",
        relevance["glasses"]["relevance"],
        "--out",
        tmp_path,
    )
    _, record = load_arrays(tmp_path / "masking.npz")
    fill = record["parameters"]["fill_value"]
    assert len(fill) == 3
    assert all(0 < value < 1 for value in fill)
    assert record["sources"] == [record["models"][0], "random"]


def test_compare_writes_per_image_and_summary_matrices(relevance, tmp_path):
    summary = run(
        "compare",
        "--relevance",
        relevance["glasses"]["relevance"],
        relevance["gender"]["relevance"],
        "--names",
        "glasses,gender",
        "--fractions",
        "0.05,0.2",
        "--out",
        tmp_path,
    )
    assert summary["models"] == ["glasses", "gender"]
    arrays, _ = load_arrays(tmp_path / "comparison.npz")
    assert arrays["iou"].shape == (17, 2, 2, 2)
    np.testing.assert_allclose(np.diagonal(arrays["mean_spearman"]), 1.0)


def test_spec_checks_weights_and_bad_input_exits_with_a_message(faces, tmp_path):
    weights = tmp_path / "weights.pth"
    torch.save(build_model(ModelSpec("small_cnn", 4)).state_dict(), weights)
    summary = run(
        "spec",
        "--architecture",
        "small_cnn",
        "--num-classes",
        4,
        "--weights",
        weights,
        "--out",
        tmp_path / "spec.json",
    )
    assert ModelSpec.load(summary["spec"]).weights_format == "torchvision"
    message = run(
        "spec",
        "--architecture",
        "small_cnn",
        "--num-classes",
        5,
        "--weights",
        weights,
        "--out",
        tmp_path / "bad.json",
        expect=2,
    )
    assert "shape conflicts" in message
    assert "classifier.3.weight" in message
    message = run(
        "finetune",
        "--images",
        faces / "images",
        "--metadata",
        faces / "metadata.csv",
        "--base",
        "small_cnn",
        "--label-column",
        "age",
        "--out",
        tmp_path,
        expect=2,
    )
    assert "'age' is missing" in message
