"""The demo study end to end with tiny settings: real worker, live server, simulated people;
the 2 pretrainings x 2 tasks x 2 seeds model grid; Bubbles trials answered from the eyes."""

import io

import pandas as pd
import pytest

from studyapp.demo_runner import run_demo
from studyapp.models import Artifact, Job, Participant, ParticipantAttribute, Study
from studyapp.selectors.reports import latest_report, report_member
from studyapp.services.demo import ARRANGEMENT_STUDY, DEMO_GROUP_SETTINGS, DemoConfig

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TINY = DemoConfig(
    identities=6,
    images_per_identity=4,
    image_size=64,
    pretraining_identities=6,
    object_classes=6,
    images_per_object_class=3,
    max_epochs=4,
    participants=4,
    trials_per_participant=200,  # per block: 4 x 200 Bubbles trials, about 400 per gender
    suffix="-tiny",
)
QUICK_STEPS = {
    "masking": {"fractions": [0.1, 0.5]},
    "decision": {"fractions": [0.1, 0.5]},
    "report": {
        "methods": ["spearman"],
        "n_boot": 20,
        "n_permutations": 50,
        "n_splits": 5,
        "embedding_dims": [2],
        "embedding_folds": 2,
        **DEMO_GROUP_SETTINGS,
    },
}


def gender_gaps(report, study) -> dict[str, float]:
    """Per age group, the mean dissimilarity of the group's matrix between faces of different
    gender minus that between faces of the same gender (different identities both ways): the
    older group weights gender four times as much (``DEMO_GROUPS``), so its gap is larger."""
    labels = {s.name: s.labels for s in study.stimulus_set.stimuli.all()}
    long = pd.read_csv(
        io.BytesIO(report_member(report, "tables/participant_group_matrices_long.csv"))
    )
    first, second = (long[c].map(labels) for c in ("stimulus_1", "stimulus_2"))
    other_identity = first.map(lambda x: x["identity"]) != second.map(lambda x: x["identity"])
    cross = first.map(lambda x: x["gender"]) != second.map(lambda x: x["gender"])
    pairs = long[other_identity].assign(cross=cross[other_identity])
    means = pairs.groupby(["group", "cross"])["value"].mean().unstack()
    return (means[True] - means[False]).to_dict()


def eyes_share(report) -> dict[str, tuple[float, float]]:
    """Per gender group, the eyes' share of the cluster test's significant pixels and its ratio
    to their share of the image (``tables/bubbles_parts.csv``; shares weighted by how many of
    the group's faces have an eye at the pixel)."""
    parts = pd.read_csv(io.BytesIO(report_member(report, "tables/bubbles_parts.csv")))
    eyes = parts[(parts["test"] == "cluster") & parts["part"].isin(["left_eye", "right_eye"])]
    summed = eyes.groupby("group")[["significant_share", "area_share"]].sum()
    return {
        str(group): (row.significant_share, row.significant_share / row.area_share)
        for group, row in summed.iterrows()
    }


def test_demo_runs_end_to_end_and_a_second_run_reuses_everything(
    worker, media, live_server, tmp_path
):
    password_file = tmp_path / "password.txt"

    def demo():
        return run_demo(
            base_url=live_server.url,
            password_file=password_file,
            config=TINY,
            progress=False,
            log=lambda _: None,
            steps=QUICK_STEPS,
        )

    first = demo()
    assert first.report is not None
    assert first.report.summary["n_participants_analysed"] == 4
    assert len(first.models) == 8
    assert sorted((m.pretraining, m.task, m.seed) for m in first.models) == sorted(
        (p, t, s) for p in ("facegen", "objectgen") for t in ("gender", "identity") for s in (1, 2)
    )
    parents = {m.parent for m in first.models}
    assert {p.pretraining for p in parents} == {"facegen", "objectgen"}
    assert all(m.pretraining == m.parent.pretraining for m in first.models)
    assert parents == {m.parent for m in first.models if m.task == "gender"}
    study = first.study
    assert study.participants.filter(status=Participant.Status.COMPLETED).count() == 4
    assert set(study.face_models.all()) == set(first.models)
    assert Job.objects.filter(status="failed").count() == 0
    # the simulated participants answered the questionnaire, in two age groups ...
    assert study.questionnaire
    assert study.timing["fixation_ms"] > 0
    ages = ParticipantAttribute.objects.filter(participant__study=study, key="age_band")
    assert sorted(ages.values_list("value", flat=True)) == ["18-24", "18-24", "45-54", "45-54"]
    # ... that the report analyses as participant groups, and the faces by gender
    groups = pd.read_csv(
        io.BytesIO(report_member(first.report, "tables/participant_group_reliability.csv"))
    )
    assert dict(zip(groups["group"], groups["n_participants"], strict=True)) == {
        "18-24": 2,
        "45-54": 2,
    }
    page = report_member(first.report, "index.html").decode()
    assert "Participant groups" in page
    gaps = gender_gaps(first.report, study)
    assert gaps["45-54"] > gaps["18-24"], gaps  # the planted difference, recovered
    assert "Bias across stimulus groups" in page
    # the multi-arrangement study: bots arrange the faces from the same structure
    arranged = Study.objects.get(slug=ARRANGEMENT_STUDY + TINY.suffix)
    assert arranged.participants.filter(status=Participant.Status.COMPLETED).count() == 4
    arrangement_report = latest_report(study=arranged)
    assert arrangement_report.summary["trial_type"] == "arrangement"
    assert arrangement_report.summary["n_participants_analysed"] == 4
    assert arrangement_report.summary["split_half"]["reliability_mean"] > 0.5
    # the demo dissects its eight models; the report shows them against their random copies
    assert Artifact.objects.filter(kind="dissection", face_model__in=first.models).count() == 8
    assert "<h2>Network dissection</h2>" in page
    for name in ("dissection_levels", "dissection_units_0", "dissection_comparison"):
        assert report_member(first.report, f"figures/{name}.png")
    unique = pd.read_csv(io.BytesIO(report_member(first.report, "tables/dissection_unique.csv")))
    assert set(unique["network"]) == {"trained", "random weights"}
    assert len(unique) == 8 * 2 * 3  # models x networks x layers
    # the Bubbles block: the simulated people answer from the eyes, the report finds the eyes
    assert "Decision weighting: humans vs models" in page
    regions = pd.read_csv(io.BytesIO(report_member(first.report, "tables/bubbles_regions.csv")))
    assert set(regions["participants"]) == {4}
    stimuli = pd.read_csv(io.BytesIO(report_member(first.report, "tables/bubbles_stimuli.csv")))
    assert len(stimuli) == TINY.identities * TINY.images_per_identity  # a map per face
    shares = eyes_share(first.report)
    assert sorted(shares) == ["all", "female", "male"]
    for _, ratio in shares.values():  # eyes: under 1 % of the image (measured ratios 6 and 20)
        assert ratio > 3, shares
    # relevance sanity checks of every model: a curve over its 6 layers, a verdict sentence
    assert "Sanity checks" in page
    verdicts = pd.read_csv(io.BytesIO(report_member(first.report, "tables/sanity_verdicts.csv")))
    assert sorted(verdicts["model"]) == sorted(m.name for m in first.models)
    assert set(verdicts["layers_randomised"]) == {6}
    for sentence in verdicts["sentence"]:
        assert "cascading randomisation" in sentence
        assert "input invariance" in sentence
        assert sentence in page
    shifts = pd.read_csv(io.BytesIO(report_member(first.report, "tables/sanity_invariance.csv")))
    assert (shifts["max_logit_change"] < 1e-3).all()  # the shift is invisible to the models

    jobs_before = Job.objects.count()
    second = demo()
    assert second.password == first.password
    assert second.report == first.report  # same responses, same results: the same report
    assert study.participants.count() == 4
    new_jobs = Job.objects.order_by("pk")[jobs_before:]
    assert all("reused" in job.note for job in new_jobs), [(j.kind, j.note) for j in new_jobs]
    assert Artifact.objects.filter(kind="report").count() == 2  # triplets and arrangements
