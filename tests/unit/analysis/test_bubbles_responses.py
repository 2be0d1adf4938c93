"""Classification images from the response table: per participant and stimulus group, their
tests and the agreement with model maps (simulated observers with known diagnostic regions)."""

import numpy as np
import pandas as pd
import pytest

from analysis.bubbles import (
    BubblesDesign,
    ClassificationImageAccumulator,
    WeightedUpDown,
    group_part_presence,
    part_shares,
)
from analysis.bubbles.observers import DiagnosticObserver, disc_weights, simulate_observer
from analysis.bubbles.responses import (
    decision_weighting,
    participant_accumulators,
    stimulus_maps,
    with_pooled,
)
from analysis.report import write_report
from analysis.study_analysis import AnalysisParameters, BubblesInputs, analyse_study

DESIGN = BubblesDesign(height=48, width=48, sigma=3.0)
EYES = [(16, 14), (16, 34)]
MOUTH = [(36, 24)]
GROUPS = {"face0": "eyes", "face1": "eyes", "face2": "guess", "face3": "guess"}


def responses_table(n_participants=6, n_trials=250):
    """Rows as `analysis.io.read_responses` gives them: each participant judges the "eyes"
    faces with an eyes-only observer and the "guess" faces by guessing."""
    observers = {
        "eyes": DiagnosticObserver(disc_weights(DESIGN, EYES, 5), threshold=0.15),
        "guess": DiagnosticObserver(None),
    }
    frames = []
    for p in range(n_participants):
        for g, (group, observer) in enumerate(observers.items()):
            staircase = WeightedUpDown(start=40, step=0.08, maximum=300)
            trials = simulate_observer(
                DESIGN, observer, n_trials, staircase=staircase, random_state=100 * p + g
            )
            faces = [name for name, of in GROUPS.items() if of == group]
            frames.append(
                pd.DataFrame(
                    {
                        "participant": f"p{p}",
                        "trial_type": "bubbles",
                        "role": "main",
                        "item_1": np.resize(faces, len(trials)),
                        "correct": trials["correct"].astype("boolean"),
                        "bubbles_seed": trials["seed"].astype(float),
                        "bubbles_count": trials["count"].astype(float),
                        "bubbles_sigma": DESIGN.sigma,
                    }
                )
            )
    practice = frames[0].head(3).assign(role="practice", correct=False)
    rating = frames[0].head(2).assign(trial_type="rating")
    return pd.concat([*frames, practice, rating], ignore_index=True)


@pytest.fixture(scope="module")
def table():
    return responses_table()


def test_accumulators_per_group_and_participant_stream_the_trials(table):
    accumulators = participant_accumulators(table, DESIGN, groups=GROUPS)
    assert sorted(accumulators) == ["eyes", "guess"]
    assert sorted(accumulators["eyes"]) == [f"p{p}" for p in range(6)]
    assert all(a.n_trials == 250 for g in accumulators.values() for a in g.values())
    rows = table[(table["participant"] == "p3") & table["item_1"].isin(["face0", "face1"])]
    rows = rows[rows["role"] == "main"]
    direct = ClassificationImageAccumulator(DESIGN).add_trials(
        rows["bubbles_seed"].astype(np.int64),
        rows["bubbles_count"].astype(np.int64),
        rows["correct"],
    )
    np.testing.assert_allclose(accumulators["eyes"]["p3"].sum_mask_correct, direct.sum_mask_correct)
    pooled = participant_accumulators(table, DESIGN)
    assert list(pooled) == ["all"]
    assert pooled["all"]["p0"].n_trials == 500


def test_eyes_group_has_significant_eyes_guessing_group_none_and_model_agreement(table):
    accumulators = participant_accumulators(table, DESIGN, groups=GROUPS)
    maps = {
        "eyes-model": {"eyes": disc_weights(DESIGN, EYES, 5)},
        "mouth-model": {"eyes": disc_weights(DESIGN, MOUTH, 5)},
    }
    result = decision_weighting(accumulators, model_maps=maps, n_boot=50, random_state=0)
    eyes = result.significant["eyes", "cluster"]
    assert eyes[tuple(np.array(EYES).T)].all()
    assert not result.significant["guess", "cluster"].any()
    assert not result.significant["guess", "pixel"].any()
    regions = result.regions.set_index(["group", "test"])
    assert regions.loc[("eyes", "cluster"), "regions"] >= 1
    assert regions.loc[("guess", "pixel"), "significant_pixels"] == 0
    # an excursion above the threshold that is not significant is no region (one here)
    assert regions.loc[("guess", "cluster"), ["significant_pixels", "regions"]].tolist() == [0, 0]
    assert (
        regions.loc[("eyes", "pixel"), "ceiling"] > 0.5 > regions.loc[("guess", "pixel"), "ceiling"]
    )
    rho = result.agreement.query("statistic == 'spearman'").set_index("model")
    assert rho.loc["eyes-model", "ci_low"] > rho.loc["mouth-model", "ci_high"]
    assert (rho["ci_low"] <= rho["estimate"]).all()
    assert set(result.agreement["group"]) == {"eyes"}  # models without a guess map: no rows


def part_masks() -> dict[str, np.ndarray]:
    """Label maps: 1 = the eye discs, 2 = the mouth disc; face1's eyes two pixels lower."""
    masks = {}
    for name in GROUPS:
        shift = 2 if name == "face1" else 0
        eyes = disc_weights(DESIGN, [(r + shift, c) for r, c in EYES], 5)
        masks[name] = np.where(eyes > 0, 1, 2 * (disc_weights(DESIGN, MOUTH, 5) > 0))
    return masks


def test_part_presence_is_the_share_of_the_group_images_with_the_part():
    presence = group_part_presence(part_masks(), {1: "eyes", 2: "mouth"}, GROUPS)
    assert sorted(presence) == ["eyes", "guess"]
    eyes = presence["eyes"]["eyes"]
    assert set(np.unique(eyes)) == {0.0, 0.5, 1.0}  # face1's shifted eyes cover half the rows
    assert eyes[EYES[0]] == 1.0
    assert eyes[EYES[0][0] + 6, EYES[0][1]] == 0.5
    shares = part_shares(presence["guess"]["eyes"] > 0.5, presence["guess"])
    shares = shares.set_index("part")
    assert shares.loc["eyes", "significant_share"] == 1.0
    assert shares.loc["mouth", "significant_share"] == 0.0
    assert shares.loc["eyes", "ratio"] == pytest.approx(1 / shares.loc["eyes", "area_share"])
    with pytest.raises(ValueError, match="2-D label maps of one shape"):
        group_part_presence({"a": np.zeros((4, 4)), "b": np.zeros((5, 4))}, {1: "eyes"})


def test_the_eyes_group_significant_pixels_lie_on_the_eyes(table):
    accumulators = participant_accumulators(table, DESIGN, groups=GROUPS)
    presence = group_part_presence(part_masks(), {1: "eyes", 2: "mouth"}, GROUPS)
    result = decision_weighting(accumulators, part_presence=presence, n_boot=5, random_state=0)
    parts = result.parts.set_index(["group", "test", "part"])
    eyes = parts.loc[("eyes", "cluster", "eyes")]
    assert eyes["significant_share"] > 0.4  # smoothing spreads it beyond the eyes
    assert eyes["ratio"] > 4
    assert parts.loc[("eyes", "cluster", "mouth"), "significant_share"] < 0.05
    assert (parts.loc["guess", "significant_share"] == 0).all()  # nothing significant
    assert decision_weighting(accumulators, n_boot=5, random_state=0).parts is None


def test_a_design_with_another_sigma_is_refused(table):
    with pytest.raises(ValueError, match="'design' parameter of participant_accumulators"):
        participant_accumulators(table, BubblesDesign(height=48, width=48, sigma=4.0))
    with pytest.raises(ValueError, match="Bubbles columns"):
        participant_accumulators(table.drop(columns="bubbles_seed"), DESIGN)


def test_a_study_with_bubbles_trials_gets_the_decision_weighting_section(
    study_responses, table, tmp_path
):
    """Triplets and Bubbles in one export: the similarity analysis is that of the triplets
    alone, and the report adds the Bubbles maps, regions and model agreement."""
    triplets = study_responses["triplet"]
    people = sorted(triplets["participant"].unique())[:6]
    bubbles = table[table["trial_type"] == "bubbles"].assign(
        participant=lambda t: t["participant"].map({f"p{i}": p for i, p in enumerate(people)}),
        study=triplets["study"].iloc[0],
        trial_index=lambda t: 10_000 + np.arange(len(t)),
        participant_status=lambda t: t["participant"].map(
            triplets.groupby("participant")["participant_status"].first()
        ),
        rt_ms=900.0,
    )
    mixed = pd.concat([triplets, bubbles], ignore_index=True)
    params = AnalysisParameters(n_boot=20, n_permutations=50, n_splits=10)
    inputs = BubblesInputs(
        DESIGN,
        groups=GROUPS,
        model_maps={"eyes-model": {"eyes": disc_weights(DESIGN, EYES, 5)}},
        model_image_maps={"eyes-model": dict.fromkeys(GROUPS, disc_weights(DESIGN, EYES, 5))},
        faces={"eyes": np.full((48, 48), 0.5), "guess": np.full((48, 48), 0.4)},
        part_masks=part_masks(),
        part_labels={1: "eyes", 2: "mouth"},
    )
    alone = analyse_study(triplets, parameters=params)
    analysis = analyse_study(mixed, parameters=params, bubbles=inputs)
    assert analysis.trial_type == "triplet"
    assert analysis.split_half.summary() == alone.split_half.summary()
    assert analysis.bubbles.significant["eyes", "cluster"][tuple(np.array(EYES).T)].all()
    assert alone.bubbles is None
    html = write_report(analysis, tmp_path).html.read_text()
    assert "<h2>Decision weighting: humans vs models</h2>" in html
    assert (tmp_path / "figures" / "bubbles_classification_images.png").exists()
    regions = pd.read_csv(tmp_path / "tables" / "bubbles_regions.csv")
    assert sorted(set(regions["group"])) == ["all", "eyes", "guess"]
    stimuli = pd.read_csv(tmp_path / "tables" / "bubbles_stimuli.csv").set_index("stimulus")
    assert sorted(stimuli.index) == sorted(GROUPS)
    assert (stimuli["trials"] == 6 * 125).all()
    assert (stimuli.loc[["face0", "face1"], "regions"] >= 1).all()
    assert (stimuli.loc[["face2", "face3"], "significant_pixels"] == 0).all()
    assert (tmp_path / "figures" / "bubbles_stimulus_classification_images.png").exists()
    assert (tmp_path / "figures" / "bubbles_decision_maps.png").exists()
    assert "Side by side over each group" in html
    per_image = pd.read_csv(tmp_path / "tables" / "bubbles_image_agreement.csv")
    assert sorted(per_image["stimulus"]) == sorted(GROUPS)
    summary = pd.read_csv(tmp_path / "tables" / "bubbles_image_agreement_summary.csv")
    assert set(summary["images"]) == {4}
    assert "Per image: each stimulus" in html
    agreement = pd.read_csv(tmp_path / "tables" / "bubbles_agreement.csv")
    assert set(agreement["model"]) == {"eyes-model"}
    assert "Agreement of model maps with the human maps" in html
    parts = pd.read_csv(tmp_path / "tables" / "bubbles_parts.csv")
    assert (
        parts.query("group == 'eyes' and test == 'cluster' and part == 'eyes'")["ratio"].item() > 4
    )
    assert "Significant pixels per face part" in html
    assert "Decision weighting: humans vs models" not in sections_html(alone, tmp_path / "alone")


def sections_html(analysis, out) -> str:
    out.mkdir()
    return write_report(analysis, out).html.read_text()


def test_pooling_adds_every_groups_trials_per_participant(table):
    accumulators = participant_accumulators(table, DESIGN, groups=GROUPS)
    pooled = with_pooled(accumulators)
    assert sorted(pooled) == ["all", "eyes", "guess"]
    direct = participant_accumulators(table, DESIGN)["all"]
    for participant, accumulator in pooled["all"].items():
        assert accumulator.n_trials == direct[participant].n_trials == 500
        np.testing.assert_allclose(
            accumulator.sum_mask_correct, direct[participant].sum_mask_correct
        )
    single = {"eyes": accumulators["eyes"]}
    assert with_pooled(single) == single  # one group: nothing to pool


def test_each_stimulus_gets_its_own_map_and_test(table):
    found = stimulus_maps(table, DESIGN, keep=1)
    rows = found.table.set_index("stimulus")
    assert sorted(rows.index) == sorted(GROUPS)
    assert (rows["participants"] == 6).all()
    assert (rows["trials"] == 6 * 125).all()  # main trials only
    assert rows.loc["face0", "significant_pixels"] > 0
    assert rows.loc["face2", "significant_pixels"] == 0
    assert list(found.z) == ["face0"]  # at most `keep` maps are kept
    assert found.significant["face0"][tuple(np.array(EYES).T)].all()
    only = stimulus_maps(table, DESIGN, stimuli=["face3"])
    assert only.table["stimulus"].tolist() == ["face3"]


def test_a_stimulus_without_errors_gets_a_row_but_no_map(table):
    right = table.copy()
    right.loc[right["item_1"] == "face1", "correct"] = True
    rows = stimulus_maps(right, DESIGN).table.set_index("stimulus")
    assert "fewer than 5 correct or incorrect" in rows.loc["face1", "note"]
    assert np.isnan(rows.loc["face1", "significant_pixels"])
    assert rows.loc["face0", "note"] == ""


def test_each_stimulus_map_is_compared_with_each_models_map_of_that_image(table):
    eyes, mouth = disc_weights(DESIGN, EYES, 5), disc_weights(DESIGN, MOUTH, 5)
    maps = {
        "eyes-model": dict.fromkeys(GROUPS, eyes),
        "mouth-model": dict.fromkeys(("face0", "face1"), mouth),
    }
    found = stimulus_maps(table, DESIGN, model_maps=maps, keep=1, n_boot=200, random_state=0)
    assert list(found.z) == ["face0"]  # the figure's maps: still at most `keep`
    per_image = found.agreement.set_index(["model", "stimulus"])
    assert len(per_image) == 4 + 2  # the mouth model has maps of two images only
    for face in ("face0", "face1"):
        assert (
            per_image.loc[("eyes-model", face), "spearman"]
            > per_image.loc[("mouth-model", face), "spearman"]
        )
    summary = found.agreement_summary.set_index(["model", "statistic"])
    assert summary.loc[("mouth-model", "top_iou"), "images"] == 2
    eyes_rho = summary.loc[("eyes-model", "spearman")]
    assert eyes_rho["ci_low"] <= eyes_rho["estimate"] <= eyes_rho["ci_high"]
    expected = per_image.loc["eyes-model", "spearman"].mean()
    assert eyes_rho["estimate"] == pytest.approx(expected)
    assert stimulus_maps(table, DESIGN).agreement is None  # no model maps: no comparison
