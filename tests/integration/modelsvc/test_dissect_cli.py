"""`python -m modelsvc dissect` on a generated face set, paired by `analysis.dissection`."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

import facegen
from analysis.dissection import pair_units, read_dissection, summarise_pairing
from modelsvc.cli import main


def _main(*words, expect=0):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*words, "--quiet"])
    assert code == expect, err.getvalue()
    return json.loads(out.getvalue()) if expect == 0 else err.getvalue()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dissect")
    root = facegen.write_dataset(
        tmp / "faces", n_identities=8, images_per_identity=2, size=32, seed=2, glasses_rate=0.5
    )
    spec = tmp / "spec.json"
    _main(
        "spec", "--architecture", "small_cnn", "--num-classes", "2", "--input-size", "32", "32",
        "--out", str(spec),
    )  # fmt: skip
    return root, spec, tmp


def test_dissect_writes_counts_that_analysis_pairs(setup):
    root, spec, tmp = setup
    summary = _main(
        "dissect", "--set", str(root), "--model", str(spec), "--layers", "features.1,features.4",
        "--global-column", "gender", "--global-column", "glasses", "--top-fraction", "0.01",
        "--out", str(tmp / "out"),
    )  # fmt: skip
    data = read_dissection(summary["dissection"])
    assert set(data.counts) == {"model", "random"}
    counts = data.counts["model"]["features.4"]
    assert counts.intersection.shape == (16, 32, len(data.concepts.part_names))
    assert counts.part_area.sum() > 0
    assert set(data.concepts.global_) == {
        "gender=female",
        "gender=male",
        "glasses=no",
        "glasses=yes",
    }
    assert data.record["stimulus_ids"][0] == "id00_v0.png"
    pairing = pair_units(
        counts,
        data.concepts,
        baseline=data.counts["random"]["features.4"],
        n_permutations=100,
        random_state=0,
    )
    assert summarise_pairing(pairing)["units"] == 32
    np.testing.assert_array_equal(
        data.concepts.global_["glasses=yes"],
        [line.endswith(",yes") for line in (root / "metadata.csv").read_text().split("\n")[1:-1]],
    )


def test_dissect_errors_are_clear(setup):
    root, spec, tmp = setup
    common = ("--set", str(root), "--model", str(spec), "--layers", "features.1")
    error = _main("dissect", *common, "--local", "gender", "--out", str(tmp / "x"), expect=2)
    assert "--local takes COLUMN=PART; got ['gender']" in error
    error = _main("dissect", *common, "--global-column", "age", "--out", str(tmp / "x"), expect=2)
    assert "must be columns of metadata.csv" in error
    error = _main(
        "dissect", "--set", str(root), "--model", str(spec), "--layers", "classifier.1",
        "--out", str(tmp / "x"), expect=2,
    )  # fmt: skip
    assert "must name convolutional layers" in error
    (root / "images" / "id07_v1.png").write_bytes(b"corrupt")
    error = _main("dissect", *common, "--out", str(tmp / "x"), expect=2)
    assert "Cannot dissect" in error
    assert "id07_v1.png" in error
