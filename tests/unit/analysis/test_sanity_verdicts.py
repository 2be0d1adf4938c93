"""Verdicts of the relevance sanity checks and the report's "Sanity checks" section."""

import numpy as np
import pandas as pd
import pytest

from analysis.report import write_report
from analysis.sanity import sanity_verdicts
from analysis.study_analysis import AnalysisParameters, analyse_study


def curve(model: str, method: str, final: float) -> pd.DataFrame:
    """Three randomisation steps falling linearly from 0.9 to `final`."""
    values = np.linspace(0.9, final, 3)
    return pd.DataFrame(
        {
            "model": model,
            "method": method,
            "step": [1, 2, 3],
            "layer": ["classifier.3", "classifier.0", "features.0"],
            "spearman_abs": values,
            "spearman_signed": values,
            "ssim": values,
            "top_iou": values,
        }
    )


def checks():
    randomisation = pd.concat(
        [curve("net-a", "epsilon_plus_flat", 0.1), curve("net-b", "epsilon_plus_flat", 0.8)]
    )
    invariance = pd.DataFrame(
        {
            "model": ["net-a", "net-b"],
            "method": "epsilon_plus_flat",
            "spearman_abs": [1.0, 0.6],
            "spearman_signed": [0.99, 0.6],
            "ssim": [1.0, 0.7],
            "top_iou": [1.0, 0.5],
            "max_logit_change": [1e-6, 1e-6],
        }
    )
    return sanity_verdicts(randomisation, invariance)


def test_verdicts_follow_the_last_step_and_the_shift():
    verdicts = checks().verdicts.set_index("model")
    assert verdicts.loc["net-a", "randomisation_passes"]
    assert not verdicts.loc["net-b", "randomisation_passes"]  # 0.8 left after all 3 layers
    assert verdicts.loc["net-a", "invariance_passes"]
    assert not verdicts.loc["net-b", "invariance_passes"]
    assert verdicts.loc["net-b", "last_layer"] == "features.0"
    assert verdicts.loc["net-a", "sentence"] == (
        "net-a, epsilon_plus_flat: cascading randomisation passes (Spearman of the absolute "
        "maps 0.10 after all 3 layers were randomised; passes below 0.5); input invariance "
        "passes (signed Spearman 0.99 after a shift the model cannot see; passes at 0.95 or "
        "more)."
    )
    assert (
        "randomisation fails (Spearman of the absolute maps 0.80"
        in verdicts.loc["net-b", "sentence"]
    )


def test_tables_without_the_checks_columns_are_refused():
    with pytest.raises(ValueError, match="'invariance' parameter of sanity_verdicts"):
        sanity_verdicts(curve("a", "m", 0.1), pd.DataFrame({"model": ["a"], "method": ["m"]}))


def test_the_report_has_a_sanity_section_with_a_sentence_per_model(study_responses, tmp_path):
    params = AnalysisParameters(n_boot=20, n_permutations=50, n_splits=10)
    triplets = study_responses["triplet"]
    analysis = analyse_study(triplets, parameters=params, sanity=checks())
    html = write_report(analysis, tmp_path).html.read_text()
    assert "<h2>Sanity checks</h2>" in html
    assert "net-b, epsilon_plus_flat: cascading randomisation fails" in html
    assert (tmp_path / "figures" / "sanity_randomisation.png").exists()
    verdicts = pd.read_csv(tmp_path / "tables" / "sanity_verdicts.csv")
    assert list(verdicts["model"]) == ["net-a", "net-b"]
    assert len(pd.read_csv(tmp_path / "tables" / "sanity_randomisation.csv")) == 6
    without = tmp_path / "without"
    without.mkdir()
    plain = write_report(analyse_study(triplets, parameters=params), without).html.read_text()
    assert "Sanity checks" not in plain
