"""Every `python -m modelsvc` subcommand, run as a subprocess on a tiny generated face set
(second runs and error cases go through `modelsvc.cli.main` in this process, to save the
~4 s start-up of a fresh Python with torch)."""

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch

import facegen
from modelsvc.artifacts import load_arrays
from modelsvc.cli import main
from modelsvc.spec import ModelSpec
from modelsvc.weights import build_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _args(*args):
    """Command-line words: strings with spaces are split, paths and numbers converted."""
    words = []
    for arg in args:
        words += arg.split() if isinstance(arg, str) else [str(arg)]
    return [*words, "--quiet"]


def run(*args, expect=0):
    """``python -m modelsvc ...`` in a subprocess; its JSON summary (or stderr on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "modelsvc", *_args(*args)],
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == expect, result.stderr
    return json.loads(result.stdout) if expect == 0 else result.stderr


def run_here(*args, expect=0):
    """`run` without a subprocess."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(_args(*args))
    assert code == expect, err.getvalue()
    return json.loads(out.getvalue()) if expect == 0 else err.getvalue()


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "faces"
    facegen.write_dataset(root, n_identities=6, images_per_identity=3, size=32, seed=1)
    (root / "images" / "id05_v2.png").write_bytes(b"corrupt")  # one unreadable image
    return root


def _images(faces):
    return ("--images", faces / "images", "--metadata", faces / "metadata.csv")


@pytest.fixture(scope="module")
def models(faces):
    out = faces.parent
    common = (*_images(faces), "--base small_cnn --input-size 32 32 --train-all --epochs 3")
    return {
        "glasses": run("finetune", *common, "--label-column glasses --out", out / "glasses"),
        "gender": run_here("finetune", *common, "--label-column gender --seed 1 --out",
                           out / "gender"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def relevance(faces, models):
    return {
        name: runner("relevance --model", models[name]["spec"], *_images(faces), "--out",
                     faces.parent / f"relevance_{name}")
        for name, runner in (("glasses", run), ("gender", run_here))
    }  # fmt: skip


def test_finetune_writes_checkpoint_and_spec(models):
    spec = ModelSpec.load(models["glasses"]["spec"])
    assert spec.task == "glasses"
    assert spec.class_names == ("no", "yes")
    assert spec.training["skipped"][0]["key"] == "id05_v2.png"
    assert len(spec.training["history"]) == models["glasses"]["epochs_run"] <= 3
    assert Path(spec.weights_path).name == "model.pt"
    assert 0.0 <= models["glasses"]["val_accuracy"] <= 1.0


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
    summary = run("embed --model", models["glasses"]["spec"], "--images", faces / "images",
                  "--layers features.11,classifier.1 --metric cosine --out", tmp_path)  # fmt: skip
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
        "mask --images", faces / "images",
        "--model", models["glasses"]["spec"], models["gender"]["spec"],
        "--relevance", relevance["glasses"]["relevance"], relevance["gender"]["relevance"],
        "--fractions 0.1,0.5 --mode remove --fill noise --baselines random,center --out",
        tmp_path,
    )  # fmt: skip
    assert summary["sources"][2:] == ["random", "center"]
    arrays, record = load_arrays(tmp_path / "masking.npz")
    assert arrays["accuracy"].shape == (4, 2, 2)
    assert arrays["correct"].shape == (4, 2, 17, 2)
    np.testing.assert_array_equal(arrays["asymmetry"], -arrays["asymmetry"].transpose(1, 0, 2))
    assert record["parameters"]["mode"] == "remove"
    assert record["parameters"]["pixel_counts"] == [102, 512]


def test_mask_with_mean_fill_records_the_dataset_mean(faces, relevance, models, tmp_path):
    run_here("mask --images", faces / "images", "--model", models["glasses"]["spec"],
             "--relevance", relevance["glasses"]["relevance"], "--out", tmp_path)  # fmt: skip
    _, record = load_arrays(tmp_path / "masking.npz")
    fill = record["parameters"]["fill_value"]
    assert len(fill) == 3
    assert all(0 < value < 1 for value in fill)
    assert record["sources"] == [record["models"][0], "random"]


def test_compare_writes_per_image_and_summary_matrices(relevance, tmp_path):
    summary = run("compare --relevance", relevance["glasses"]["relevance"],
                  relevance["gender"]["relevance"],
                  "--names glasses,gender --fractions 0.05,0.2 --out", tmp_path)  # fmt: skip
    assert summary["models"] == ["glasses", "gender"]
    arrays, _ = load_arrays(tmp_path / "comparison.npz")
    assert arrays["iou"].shape == (17, 2, 2, 2)
    np.testing.assert_allclose(np.diagonal(arrays["mean_spearman"]), 1.0)


def test_spec_checks_that_the_weights_load(tmp_path):
    weights = tmp_path / "weights.pth"
    torch.save(build_model(ModelSpec("small_cnn", 4)).state_dict(), weights)
    summary = run("spec --architecture small_cnn --num-classes 4 --weights", weights,
                  "--out", tmp_path / "spec.json")  # fmt: skip
    assert ModelSpec.load(summary["spec"]).weights_format == "torchvision"
    message = run_here("spec --architecture small_cnn --num-classes 5 --weights", weights,
                       "--out", tmp_path / "bad.json", expect=2)  # fmt: skip
    assert "shape conflicts" in message
    assert "classifier.3.weight" in message


def test_bad_input_exits_with_status_2_and_a_message(faces, tmp_path):
    message = run_here("finetune", *_images(faces), "--base small_cnn --label-column age --out",
                       tmp_path, expect=2)  # fmt: skip
    assert "'age' is missing" in message
