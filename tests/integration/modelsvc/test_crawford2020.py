"""`bin/crawford2020`, the paper's real setting, end to end on random weights of the real shapes
(torchvision VGG-16 for ImageNet, vgg_face_dag for VGG-Face) at a small image size; two seeds
here (the recipe's default is three) to keep the run and its ~2 GB of weights small."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import facegen
from modelsvc.artifacts import load_arrays
from modelsvc.spec import ModelSpec
from modelsvc.weights import VGG_FACE_MEAN, build_model
from tests.unit.modelsvc.test_weights import _vgg_face_state

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def test_the_recipe_runs_the_grid_relevance_generalisation_and_comparison(tmp_path):
    imagenet = tmp_path / "vgg16-imagenet.pth"
    torch.manual_seed(0)
    torch.save(build_model(ModelSpec("vgg16", 1000)).state_dict(), imagenet)
    vggface = tmp_path / "vgg_face_dag.pth"
    torch.save(_vgg_face_state(fc_as_conv=True), vggface)
    faces = facegen.write_dataset(
        tmp_path / "faces", n_identities=4, images_per_identity=3, size=32, seed=5
    )
    out = tmp_path / "out"
    command = [
        str(REPO / "bin" / "crawford2020"), "--imagenet-weights", str(imagenet),
        "--vggface-weights", str(vggface), "--faces", str(faces), "--tasks", "gender",
        "--seeds", "1,2", "--image-size", "32", "--train-last", "1", "--epochs", "1",
        "--fractions", "0.1,0.5", "--device", "cpu", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": str(REPO / ".venv" / "bin" / "python")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done: 4 models." in result.stdout

    rows = json.loads((out / "grid" / "grid.json").read_text())
    assert [(r["pretraining"], r["task"], r["seed"]) for r in rows] == [
        (p, "gender", s) for p in ("imagenet", "vggface") for s in (1, 2)
    ]
    assert len({r["split_seed"] for r in rows}) == 1
    bases = {p: ModelSpec.load(out / "bases" / f"{p}.json") for p in ("imagenet", "vggface")}
    assert bases["vggface"].mean == pytest.approx(VGG_FACE_MEAN)
    assert bases["vggface"].weights_format == "vgg_face_dag"
    assert bases["imagenet"].num_classes == 1000
    assert bases["vggface"].num_classes == 2622
    for row in rows:
        spec = ModelSpec.load(row["spec"])
        assert spec.parent == bases[row["pretraining"]].cache_key()
        assert spec.input_size == (32, 32)
    masking, record = load_arrays(out / "generalisation" / "masking.npz")
    names = [r["model"] for r in rows]
    assert record["models"] == names
    assert masking["auc"].shape[:2] == (len(record["sources"]), 4)
    assert np.isfinite(masking["auc"]).all()
    comparison = list((out / "comparison").glob("*.npz"))
    assert comparison
    shutil.rmtree(tmp_path)  # about 2 GB of VGG-16 weights: not kept for pytest's last runs
