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
    return _main(
        "dissect-bias", "--seeds", "0,1", "--permutations", "200", "--bootstrap", "300",
        "--out", str(out),
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
    assert summary["training_images"] == 240
    assert summary["images_agree"] + summary["images_conflict"] == 200


def test_biased_models_fail_where_glasses_contradict_gender(summary):
    main, null = summary["behaviour"][MAIN], summary["behaviour"][NULL]
    # measured (RESULTS.md): difference 0.49 [0.37, 0.63] and 0.61 [0.48, 0.74] in two runs;
    # control B vs A -0.06 [-0.21, 0.10]
    assert main["low"] > 0.25, main
    assert null["low"] < 0 < null["high"], null
    assert abs(null["difference"]) < main["low"], (null, main)


def test_biased_models_have_more_units_paired_with_glasses(summary):
    rows = {(r["comparison"], r["layer"]): r for r in summary["glasses_shares"]}
    main, null = rows[(MAIN, "all")], rows[(NULL, "all")]
    # measured (RESULTS.md, 500 draws): 0 -> 0.021, [0.004, 0.067]; null [-0.004, 0.023].
    # At this test's size the interval's lower end sat at -0.002 (0.008 -> 0.027): the more
    # glasses units of the biased model are checked, an interval excluding 0 is not (issue 13).
    assert main["share_second"] > main["share_first"], main
    assert null["low"] <= 0 <= null["high"], null


def test_bad_settings_are_clear_errors(tmp_path):
    error = _main("dissect-bias", "--seeds", "0", "--out", str(tmp_path / "x"), expect=2)
    assert "'seeds' parameter of BiasSettings must hold at least 2 different seeds" in error
    error = _main("dissect-bias", "--bias-rate", "1.5", "--out", str(tmp_path / "x"), expect=2)
    assert "'bias_rate' parameter of BiasSettings" in error
    assert not (tmp_path / "x").exists()
