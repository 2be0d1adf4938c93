"""`python -m modelsvc grid`: pretrainings x tasks x seeds from files, one model table, reuse."""

import json

import pytest
import torch

import facegen
from modelsvc.grid import GridCell, cell_settings, grid_cells
from modelsvc.spec import ModelSpec
from modelsvc.weights import load_model
from tests.integration.modelsvc.test_cli import run, run_here

pytestmark = pytest.mark.slow


def test_grid_trains_every_cell_records_its_factors_and_reuses_them(tmp_path):
    faces = facegen.write_dataset(
        tmp_path / "faces", n_identities=4, images_per_identity=3, size=32, seed=2
    )
    bases = []
    for name, seed in (("faces", 1), ("objects", 2)):  # two "pretrainings": different weights
        ModelSpec("small_cnn", 5, input_size=(32, 32), seed=seed, name=name).save(
            tmp_path / f"{name}.json"
        )
        bases += ["--base", f"{name}={tmp_path / f'{name}.json'}"]
    args = (
        "grid --images", faces / "images", "--metadata", faces / "metadata.csv", *bases,
        "--tasks gender,identity --seeds 1,2 --train-last 2 --epochs 2 --out", tmp_path / "grid",
    )  # fmt: skip
    summary = run(*args)
    rows = json.loads((tmp_path / "grid" / "grid.json").read_text())
    assert rows == summary["models"]
    assert [(r["pretraining"], r["task"], r["seed"]) for r in rows] == [
        (p, t, s) for p in ("faces", "objects") for t in ("gender", "identity") for s in (1, 2)
    ]
    specs = {r["model"]: ModelSpec.load(r["spec"]) for r in rows}
    assert specs["objects-identity-seed2"].task == "identity"
    assert specs["objects-identity-seed2"].seed == 2
    assert specs["objects-identity-seed2"].training["group_column"] is None
    assert specs["faces-gender-seed1"].training["group_column"] == "identity"
    for task in ("gender", "identity"):  # one split per task, whatever the seed or pretraining
        splits = {json.dumps(s.training["split"]) for s in specs.values() if s.task == task}
        assert len(splits) == 1
    heads = [load_model(specs[f"faces-gender-seed{s}"]).classifier[3].weight for s in (1, 2)]
    assert not torch.equal(*heads)

    stamps = {r["model"]: (tmp_path / "grid" / r["model"] / "model.pt").stat().st_mtime_ns
              for r in rows}  # fmt: skip
    again = run_here(*args)
    assert again["models"] == rows
    assert all(
        (tmp_path / "grid" / m / "model.pt").stat().st_mtime_ns == t for m, t in stamps.items()
    )


def test_bad_grids_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="'seeds' parameter of grid_cells"):
        grid_cells(["a"], ["gender"], [1, 1])
    with pytest.raises(ValueError, match="'tasks' parameter of grid_cells"):
        grid_cells(["a"], [], [1])
    with pytest.raises(ValueError, match="'hyper' parameter of cell_settings"):
        cell_settings(GridCell("a", "gender", 1), {"seed": 3})
    message = run_here("grid --images x --metadata y --base nopath --tasks a --seeds 1 --out z",
                       expect=2)  # fmt: skip
    assert "--base takes distinct NAME=SPEC.json pairs; got 'nopath'" in message
