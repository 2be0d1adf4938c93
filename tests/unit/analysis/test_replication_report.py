"""Claims of Crawford et al. (2020): verdicts follow planted effects; the report section."""

import io
from dataclasses import replace

import markupsafe
import numpy as np
import pandas as pd
import pytest

from analysis.relevance import generalisation_table
from analysis.replication import replication_analysis
from analysis.report import replication_figures, write_report
from analysis.study_analysis import analyse_study
from tests.unit.analysis.test_recovery import ranked_models
from tests.unit.analysis.test_replication_stats import grid_info, simulated_cross
from tests.unit.analysis.test_report import PARAMS, relevance_inputs

CLAIMS = (
    "Classification accuracy is comparable across models",
    "Masking by a model's own relevance hurts it more than random masking",
    "Relevance is stable across seeds",
    "Relevance generalises across tasks",
    "Relevance generalises much less across pretraining than across tasks",
    "Generalisation is asymmetric (G[A,B] != G[B,A])",
    "Models share a core of relevant pixels",
    "Model decision weighting relates to human similarity",
)


def verdicts(replication):
    return replication.claims.set_index("claim")["verdict"]


def grid_maps(info, n_images=6, shared_by="pretraining", seed=0):
    """Relevance maps: a common face prior, plus a pattern per value of `shared_by`."""
    rng = np.random.default_rng(seed)
    prior = np.zeros((16, 16))
    prior[4:7, 3:13] = 3.0  # the "eyes"
    per_group = {v: rng.normal(size=(n_images, 16, 16)) for v in info[shared_by].unique()}
    return {
        row.model: prior + per_group[getattr(row, shared_by)] + rng.normal(size=(n_images, 16, 16))
        for row in info.itertuples()
    }


@pytest.mark.parametrize("mode", ["keep", "remove"])
def test_paper_pattern_is_supported(mode):
    info = grid_info(seeds=(0, 1, 2))  # 12 models
    weights = {"pretraining": 0.25, "task": 0.03, "seed": 0.02}
    cross = simulated_cross(info, n_images=300, mode=mode, weights=weights, noise=0.0)
    same_accuracy = np.tile(np.arange(300) % 10 != 0, (12, 1))  # every model 0.9, same images
    result = replication_analysis(
        replace(cross, unmasked_correct=same_accuracy),
        info,
        maps=grid_maps(info),
        n_boot=300,
        n_permutations=2000,
        random_state=0,
    )
    v = verdicts(result)
    assert list(result.claims["claim"]) == list(CLAIMS)
    assert v["Masking by a model's own relevance hurts it more than random masking"] == "supported"
    assert v["Relevance is stable across seeds"] == "supported"
    assert v["Relevance generalises across tasks"] == "supported"
    assert v["Relevance generalises much less across pretraining than across tasks"] == (
        "supported"
    )
    assert v["Models share a core of relevant pixels"] == "supported"
    assert v["Classification accuracy is comparable across models"] == "supported"
    # no decision weighting given: said so, not guessed
    row = result.claims.set_index("claim").loc[CLAIMS[-1]]
    assert row["verdict"] == "inconclusive"
    assert "not measured" in row["reason"]


def test_eight_models_relabel_exactly_and_say_when_too_few_to_decide():
    """2 x 2 x 2 models: all 8! relabellings; the large task - pretraining difference is not
    rare among them, so the verdict says inconclusive and why rather than supported."""
    info = grid_info()
    weights = {"pretraining": 0.25, "task": 0.03, "seed": 0.02}
    cross = simulated_cross(info, n_images=300, weights=weights, noise=0.0)
    result = replication_analysis(cross, info, n_boot=300, n_permutations=50_000, random_state=0)
    contrast = result.contrasts.set_index("contrast").loc["task - pretraining"]
    assert bool(contrast["exact"])
    assert contrast["n_permutations"] == 40320
    assert contrast["ci_low"] > 0.15
    row = result.claims.set_index("claim").loc[CLAIMS[4]]
    assert row["verdict"] == ("supported" if contrast["p_fdr"] < 0.05 else "inconclusive")
    assert row["p"] == contrast["p_fdr"]


def test_reverse_pattern_is_not_supported():
    """Relevance shared only across pretraining: the data say the paper's ordering fails."""
    info = grid_info()
    weights = {"pretraining": 0.0, "task": 0.3, "seed": 0.0}
    cross = simulated_cross(info, n_images=300, weights=weights, noise=0.0)
    result = replication_analysis(cross, info, n_boot=300, n_permutations=2000, random_state=1)
    v = verdicts(result)
    assert v["Relevance generalises much less across pretraining than across tasks"] == (
        "not supported"
    )
    row = result.claims.set_index("claim").loc["Relevance generalises across tasks"]
    assert row["verdict"] == "not supported"  # models differing only in task share nothing
    assert "negligible" in row["reason"]
    assert v["Models share a core of relevant pixels"] == "inconclusive"  # no maps given


def test_asymmetry_and_accuracy_verdicts_follow_the_data():
    info = grid_info(pretrainings=("faces",), seeds=(0,))  # 2 models
    cross = simulated_cross(info, n_images=400, noise=0.0)
    correct = np.array(cross.correct)
    correct[0, 1] = True  # A's masks leave B always right; B's masks on A as simulated
    unmasked = np.array(cross.unmasked_correct)
    unmasked[1] = np.arange(400) % 2 == 0  # accuracy 0.5 vs about 0.9
    result = replication_analysis(
        replace(cross, correct=correct, unmasked_correct=unmasked),
        info,
        n_boot=300,
        random_state=2,
    )
    v = verdicts(result)
    assert v["Generalisation is asymmetric (G[A,B] != G[B,A])"] == "supported"
    assert v["Classification accuracy is comparable across models"] == "not supported"
    assert result.accuracy_range["estimate"] == pytest.approx(unmasked[0].mean() - 0.5, abs=1e-12)


def test_replication_section_in_the_report(study_responses, truth, tmp_path):
    info = grid_info()
    cross = simulated_cross(info, n_images=60, seed=3)
    masks = np.zeros((16, 16), int)
    masks[4:7, 3:13] = 1
    base = relevance_inputs(truth)
    relevance = replace(
        base,
        generalisation=generalisation_table(
            np.mean(cross.correct, axis=2), cross.sources, cross.models, cross.fractions
        ),
        model_info=info,
        cross_masking=cross,
        relevance=grid_maps(info, n_images=3),
        images=np.random.default_rng(0).random((3, 16, 16)),
    )
    analysis = analyse_study(
        study_responses["triplet"], ranked_models(truth), parameters=PARAMS, relevance=relevance
    )
    r = analysis.replication
    assert r is not None
    assert list(r.claims["claim"]) == list(CLAIMS)
    assert set(r.claims["verdict"]) <= {"supported", "not supported", "inconclusive"}
    # the decision-weighting claim uses the study's decision-weighting table
    weighting = r.claims.set_index("claim").loc[CLAIMS[-1]]
    assert weighting["estimate"] == pytest.approx(
        analysis.decision_weighting["minus_random"].dropna().mean()
    )
    parts = r.consensus_parts
    assert set(parts["part"]) == {"eyes", "other"}
    eyes = parts[(parts["consensus"] == "all models") & (parts["part"] == "eyes")]
    assert eyes["enrichment"].iloc[0] > 1  # the shared prior is on the eyes
    files = write_report(analysis, tmp_path)
    html = files.html.read_text()
    assert "Replication of Crawford et al. (2020)" in html
    for row in r.claims.itertuples():  # each claim's sentence with its verdict and reason
        sentence = f"{row.claim}: {row.verdict} ({row.reason})"
        assert str(markupsafe.escape(sentence)) in html
    saved = pd.read_csv(tmp_path / "tables" / "replication_claims.csv")
    np.testing.assert_allclose(saved["estimate"], r.claims["estimate"], equal_nan=True)
    for name in ("replication_matrix", "replication_contrasts", "consensus_maps"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0


def test_consensus_figure_draws_images_without_consensus_pixels():
    empty = {"all models": np.zeros((2, 5, 5), bool)}
    figure = replication_figures.consensus_maps(empty, np.zeros((2, 5, 5)))
    assert len(figure.axes) == 1 + 2 + 1  # share map, 2 images, colour bar
    figure.savefig(io.BytesIO(), format="png")  # drawing is where empty overlays failed
