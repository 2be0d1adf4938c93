"""The report's opening summary: comparison-table rows, a sentence chosen by the numbers."""

import numpy as np
import pandas as pd
import pytest

from analysis.report.summary import sentence, summary_table
from analysis.simulate import random_dissimilarity
from analysis.study_analysis import AnalysisParameters, analyse_study


def row(evaluation, low, high, lower=0.2, upper=0.3, method="spearman", p=0.5):
    return {
        "model": "vgg/classifier.1",
        "method": method,
        "evaluation": evaluation,
        "ci_low": low,
        "ci_high": high,
        "noise_ceiling_lower": lower,
        "noise_ceiling_upper": upper,
        "mantel_p_fdr": p,
    }


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        (
            row(0.11, -0.06, 0.28),
            "vgg/classifier.1: ρ = 0.11 [-0.06, 0.28], below the lower noise ceiling 0.20 "
            "(55% of it); not distinguishable from zero",
        ),
        (
            row(0.25, 0.18, 0.32),
            "vgg/classifier.1: ρ = 0.25 [0.18, 0.32], within the noise-ceiling band 0.20 to "
            "0.30; reliably above zero",
        ),
        (
            row(0.35, 0.31, 0.39),
            "vgg/classifier.1: ρ = 0.35 [0.31, 0.39], above the upper noise ceiling 0.30 (as "
            "good as these data can show); reliably above zero",
        ),
        (
            row(-0.2, -0.3, -0.1, method="pearson"),
            "vgg/classifier.1: r = -0.20 [-0.30, -0.10], below the lower noise ceiling 0.20; "
            "reliably below zero",
        ),
        (
            row(0.1, 0.05, 0.15, lower=np.nan, upper=np.nan, method="tau-a"),
            "vgg/classifier.1: τa = 0.10 [0.05, 0.15], no noise ceiling to compare with (see "
            "Reliability); reliably above zero",
        ),
        (
            row(0.1, np.nan, np.nan, method="rho-a"),
            "vgg/classifier.1: ρa = 0.10, below the lower noise ceiling 0.20 (50% of it); no "
            "interval (too few participants or stimuli to resample)",
        ),
        (
            row(0.08, -0.17, 0.33, p=0.0196),
            "vgg/classifier.1: ρ = 0.08 [-0.17, 0.33], below the lower noise ceiling 0.20 "
            "(40% of it); not distinguishable from zero over new participants and stimuli, "
            "although the Mantel test on these data gives p = 0.02 after FDR",
        ),
        (
            row(np.nan, np.nan, np.nan),
            "vgg/classifier.1: ρ not defined (the model's dissimilarities are constant or "
            "missing on the compared pairs); no comparison possible",
        ),
    ],
)
def test_the_sentence_is_chosen_by_the_numbers(numbers, expected):
    assert sentence(numbers) == expected


def test_a_constant_model_gets_a_row_and_says_it_cannot_be_compared(study_responses, truth):
    models = {
        "good/fc": truth,
        "flat/fc": np.ones((truth.n_stimuli, truth.n_stimuli)) - np.eye(truth.n_stimuli),
        "other/fc": random_dissimilarity(truth.n_stimuli, random_state=9).values,
    }
    parameters = AnalysisParameters(n_boot=20, n_permutations=20, n_splits=5, methods=("spearman",))
    analysis = analyse_study(study_responses["rating"], models, parameters=parameters)
    summary = summary_table(analysis.comparison, "spearman").set_index("model")
    assert list(summary.index) == ["good/fc", "flat/fc", "other/fc"]
    assert "not defined" in summary.loc["flat/fc", "sentence"]
    assert np.isnan(summary.loc["flat/fc", "share_of_lower_ceiling"])
    assert "reliably above zero" in summary.loc["good/fc", "sentence"]
    assert "not distinguishable from zero" in summary.loc["other/fc", "sentence"]
    assert summary_table(None, "spearman") is None


def test_the_share_of_the_lower_ceiling_needs_a_positive_lower_bound():
    comparison = pd.DataFrame(
        [
            {**row(0.1, 0.0, 0.2, lower=0.25, p=0.04), "model": "a", "layer": ""},
            {**row(0.1, 0.0, 0.2, lower=-0.1), "model": "b", "layer": "x"},
            {**row(0.9, 0.8, 1.0, method="pearson", p=0), "model": "c", "layer": ""},
        ]
    )
    summary = summary_table(comparison, "spearman")
    assert summary["model"].tolist() == ["a", "b/x"]
    assert summary["share_of_lower_ceiling"].iloc[0] == pytest.approx(0.4)
    assert np.isnan(summary["share_of_lower_ceiling"].iloc[1])
    assert summary["mantel_p_fdr"].tolist() == [0.04, 0.5]
