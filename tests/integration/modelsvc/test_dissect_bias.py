"""`python -m modelsvc dissect-bias`: a glasses-gender correlation planted in the training set
is found in the models' behaviour and in their units, and the control-vs-control comparison
(two halves of the control seeds) shows neither."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from modelsvc.cli import main

pytestmark = pytest.mark.slow
MAIN, NULL = "biased_vs_control", "control_B_vs_control_A"


def _main(*words, expect=0):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*words, "--quiet"])
    assert code == expect, err.getvalue()
    return json.loads(out.getvalue()) if expect == 0 else err.getvalue()


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    out = tmp_path_factory.mktemp("bias")
    # glasses on every woman and no man: the strongest plant, so that a unit-level interval
    # excludes 0 at a test's size (RESULTS.md: at the default 0.9 the margin is smaller)
    return _main(
        "dissect-bias", "--seeds", "0,1", "--bias-rate", "1.0", "--permutations", "200",
        "--bootstrap", "300", "--out", str(out),
    )  # fmt: skip


def test_writes_summary_tables_and_figure(summary):
    assert {Path(path).name for path in summary["files"].values()} == {
        "summary.json", "shares.csv", "models.csv", "bias_shares.png",
    }  # fmt: skip
    assert Path(summary["files"]["bias_shares.png"]).read_bytes()[:4] == b"\x89PNG"
    shares = pd.read_csv(summary["files"]["shares.csv"])
    assert set(shares.comparison) == {MAIN, NULL}
    assert set(shares.layer) == {"features.1", "features.4", "features.7", "features.10", "all"}
    models = pd.read_csv(summary["files"]["models.csv"])
    assert sorted(zip(models.condition, models.seed, strict=True)) == [
        ("biased", 0), ("biased", 1), ("control", 0), ("control", 1),
    ]  # fmt: skip
    assert summary["training_images"] == 480
    assert summary["images_agree"] + summary["images_conflict"] == 200


def test_biased_models_fail_where_glasses_contradict_gender(summary):
    main, null = summary["behaviour"][MAIN], summary["behaviour"][NULL]
    # measured (RESULTS.md, data seeds 0-2): difference 1.06 [0.90, 1.19], 1.02 [0.86, 1.15],
    # 1.00 [0.86, 1.13]; control B vs A -0.04 [-0.15, 0.05], -0.06 [-0.20, 0.12], 0.00
    assert main["low"] > 0.5, main
    assert null["low"] < 0 < null["high"], null
    assert abs(null["difference"]) < main["low"], (null, main)


def test_biased_models_have_more_units_paired_with_glasses(summary):
    rows = {(r["comparison"], r["layer"]): r for r in summary["glasses_shares"]}
    main, null = rows[(MAIN, "all")], rows[(NULL, "all")]
    # measured at this size (RESULTS.md, data seeds 0-2): 0.002 -> 0.109 [0.053, 0.141],
    # 0.006 -> 0.111 [0.072, 0.138], 0.006 -> 0.117 [0.074, 0.133]; null intervals hold 0
    assert main["low"] > 0.02, main
    assert null["low"] <= 0 <= null["high"], null
    # the layer with the most glasses units: features.7, lower ends 0.125 / 0.176 / 0.133
    assert rows[(MAIN, "features.7")]["low"] > 0, rows[(MAIN, "features.7")]


def test_bad_settings_are_clear_errors(tmp_path):
    error = _main("dissect-bias", "--seeds", "0", "--out", str(tmp_path / "x"), expect=2)
    assert "'seeds' parameter of BiasSettings must hold at least 2 different seeds" in error
    error = _main("dissect-bias", "--bias-rate", "1.5", "--out", str(tmp_path / "x"), expect=2)
    assert "'bias_rate' parameter of BiasSettings" in error
    assert not (tmp_path / "x").exists()
