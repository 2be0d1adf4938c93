"""The report's "Network dissection" section on planted counts: the planted pairings appear
in its tables and sentences, its figures are drawn, the task comparison has intervals."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from analysis.dissection import Concepts, Dissection
from analysis.dissection_examples import top_units
from analysis.dissection_summary import DissectionInputs, dissection_results, task_pairs
from analysis.report import dissection_figures, write_report
from analysis.study_analysis import analyse_study
from tests.unit.analysis.test_recovery import ranked_models
from tests.unit.analysis.test_report import PARAMS

N, UNITS, PARTS, SIZE = 24, 6, 2, 8


def planted_counts(rng, *, eyes_unit: bool, gender_unit: bool, gender) -> SimpleNamespace:
    """Units fire on random pixels; unit 0 fires inside the eyes when `eyes_unit`, unit 1
    responds to gender when `gender_unit`."""
    part_area = np.full((N, PARTS), 16)
    activated = rng.integers(2, 6, size=(N, UNITS))
    intersection = np.stack([rng.binomial(activated, 0.25) for _ in range(PARTS)], axis=2)
    if eyes_unit:
        intersection[:, 0, 0] = activated[:, 0] = 12
    response = rng.random((N, UNITS))
    if gender_unit:
        response[:, 1] += 2.0 * gender
    return SimpleNamespace(
        threshold=np.zeros(UNITS),
        intersection=intersection,
        activated=activated,
        part_area=part_area,
        response=response,
    )


def planted_dissection(seed: int, *, gender_unit: bool) -> Dissection:
    rng = np.random.default_rng(seed)
    gender = np.arange(N) % 2 == 0
    concepts = Concepts(("eyes", "mouth"), {}, {"gender=female": gender, "gender=male": ~gender})
    counts = {
        "model": {
            "conv": planted_counts(rng, eyes_unit=True, gender_unit=gender_unit, gender=gender)
        },
        "random": {"conv": planted_counts(rng, eyes_unit=False, gender_unit=False, gender=gender)},
    }
    return Dissection(counts, concepts, {"stimulus_ids": list(range(N))})


def examples(dissection: Dissection) -> dict:
    counts = dissection.counts["model"]["conv"]
    top = top_units(counts, dissection.concepts, images_per_unit=3)
    rows = np.array(top["images"].tolist())
    masks = np.zeros((*rows.shape, SIZE, SIZE), bool)
    masks[..., 2:5, 2:6] = True
    return {
        "examples/conv/levels": top["level"].to_numpy(str),
        "examples/conv/concepts": top["concept"].to_numpy(str),
        "examples/conv/units": top["unit"].to_numpy(),
        "examples/conv/scores": top["score"].to_numpy(),
        "examples/conv/images": rows,
        "examples/conv/masks": masks,
        "examples/rows": np.arange(N),
        "examples/pixels": np.zeros((N, SIZE, SIZE, 3), np.uint8),
    }


INFO = {
    "gender model": {"pretraining": "facegen", "task": "gender", "seed": 1},
    "identity model": {"pretraining": "facegen", "task": "identity", "seed": 1},
}


def test_planted_units_pair_and_the_task_comparison_sees_the_gender_unit():
    dissections = {
        "gender model": planted_dissection(0, gender_unit=True),
        "identity model": planted_dissection(0, gender_unit=False),
    }
    d = dissection_results(dissections, model_info=INFO, n_permutations=200, n_bootstrap=200)
    concepts = d.concepts.set_index(["model", "network", "level", "concept"])["units"]
    assert concepts.loc[("gender model", "trained", "part", "eyes")] >= 1
    assert concepts.loc[("gender model", "trained", "global", "gender=female")] == 1
    assert ("identity model", "trained", "global", "gender=female") not in concepts.index
    assert task_pairs(INFO) == [("gender model", "identity model")]
    glob = d.comparison[(d.comparison["level"] == "global") & (d.comparison["concept"] == "*")]
    assert glob["difference"].iloc[0] < 0  # identity minus gender: one global unit fewer
    assert (glob["low"] <= glob["difference"]).all()
    assert (glob["difference"] <= glob["high"]).all()


def test_the_report_shows_the_dissection_section(study_responses, truth, tmp_path):
    dissections = {
        "gender model": planted_dissection(0, gender_unit=True),
        "identity model": planted_dissection(0, gender_unit=False),
    }
    inputs = DissectionInputs(
        dissections, INFO, {name: examples(d) for name, d in dissections.items()}
    )
    analysis = analyse_study(
        study_responses["triplet"], ranked_models(truth), parameters=PARAMS, dissection=inputs
    )
    html = write_report(analysis, tmp_path).html.read_text()
    assert "<h2>Network dissection</h2>" in html
    assert "gender model, conv: " in html
    assert "unique concepts" in html
    for name in ("dissection_levels", "dissection_units_0", "dissection_units_1"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0
    assert (tmp_path / "figures" / "dissection_comparison.png").stat().st_size > 0
    unique = pd.read_csv(tmp_path / "tables" / "dissection_unique.csv")
    assert set(unique["network"]) == {"trained", "random weights"}
    assert len(pd.read_csv(tmp_path / "tables" / "dissection_comparison.csv")) > 0
    top = pd.read_csv(tmp_path / "tables" / "dissection_top_units.csv").set_index(
        ["model", "concept"]
    )
    assert top.loc[("gender model", "gender=female"), "unit"] == 1  # the planted gender unit
    assert top.loc[("gender model", "gender=female"), "paired_concept"] == "gender=female"
    assert top.loc[("gender model", "eyes"), "unit"] == 0  # the planted eyes unit


def test_a_report_without_dissection_has_no_section(study_responses, truth, tmp_path):
    analysis = analyse_study(study_responses["triplet"], ranked_models(truth), parameters=PARAMS)
    assert analysis.dissection is None
    assert "Network dissection" not in write_report(analysis, tmp_path).html.read_text()


def test_unit_examples_outline_each_concept_row():
    dissection = planted_dissection(0, gender_unit=True)
    figure = dissection_figures.unit_examples(examples(dissection), "conv")
    levels = list(examples(dissection)["examples/conv/levels"])
    rows = sum(
        min(levels.count(level), dissection_figures.PER_LEVEL) for level in ("part", "global")
    )
    assert len(figure.axes) == 3 * rows  # two parts, two global concepts, three images each
    assert dissection_figures.unit_examples(None, "conv") is None
