"""dlib's face-recognition network as a model-grid base, end to end with a real worker: a grid
cell finetunes a classifier on its descriptor, the child runs the pipeline (embeddings,
relevance, masking, decision weighting) and the report groups it by pretraining beside a
generated-data model; its 150 px maps are compared with a 64 px model's, and it is
dissected. Skipped, with the reason, without face-recognition-models."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from django.core.files.storage import default_storage

from modelsvc import compute_relevance, load_batch, load_model, normalize
from modelsvc.builtin import get_builtin
from studyapp.models import Artifact, FaceModel, Job, StudyMembership
from studyapp.services.builtin_models import builtin_model_register
from studyapp.services.job_graph import pipeline_launch
from studyapp.services.jobs import job_launch
from studyapp.services.model_grid import model_grid_launch
from tasks.model_cache import model_spec
from tests.compute_fixtures import small_model, wait_for
from tests.factories import make_study
from tests.integration.tasks.test_pipeline import QUICK_ANALYSIS, simulate_participants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ONE_EPOCH = {"max_epochs": 1, "group_column": "identity", "learning_rate": 1e-2}
QUICK_STEPS = {
    "masking": {"fractions": [0.2], "fill": "zeros"},
    "decision": {"fractions": [0.2], "fill": "zeros"},
    "report": QUICK_ANALYSIS,
}


@pytest.fixture
def dlib_base(media):
    try:
        get_builtin("dlib_resnet29").weights_path()
    except ValueError as exc:
        pytest.skip(f"dlib's network is not installed: {exc}")
    return builtin_model_register(name="dlib_resnet29")


def test_a_grid_cell_on_dlib_makes_a_child_that_runs_the_pipeline_and_the_report(
    dlib_base, worker, faces, django_user_model
):
    generated = small_model("grid base: generated faces", seed=1)
    FaceModel.objects.filter(pk=generated.pk).update(pretraining="facegen")
    generated.refresh_from_db()
    jobs = model_grid_launch(
        bases=[dlib_base, generated],
        stimulus_set=faces,
        tasks=["gender"],
        seeds=[1],
        params=ONE_EPOCH,
    )
    for job in jobs:
        assert wait_for(job).status == Job.Status.SUCCEEDED, job.error
    child = FaceModel.objects.get(parent=dlib_base)
    assert (child.pretraining, child.task, child.seed) == ("facerec_dlib", "gender", 1)
    assert child.get_pretraining_display() == "Face recognition (dlib, ~3 M real faces)"
    assert child.architecture == "dlib_resnet29_head"
    assert child.name == "dlib_resnet29 → gender, seed 1"
    # provenance and licence of the base travel with the child
    assert child.description.startswith("Finetuned from dlib_resnet29")
    assert "CC0 1.0" in child.description
    training = child.spec["training"]
    assert training["settings"]["train_last"] == 1
    assert len(training["history"]) == 1
    assert 0.0 <= training["val_accuracy"] <= 1.0
    artifact = Artifact.objects.get(kind=Artifact.Kind.CHECKPOINT, face_model=dlib_base)
    assert artifact.summary["val_accuracy"] == training["val_accuracy"]
    assert artifact.summary["classes"] == ["female", "male"]
    assert artifact.params["architecture"] == "dlib_resnet29_head"  # not an older dlib head

    # the child is stored in the platform's checkpoint format and loads like any model
    spec = model_spec(child)
    assert spec.weights_format == "checkpoint"
    assert (spec.input_size, spec.mean) == ((150, 150), model_spec(dlib_base).mean)
    network = load_model(spec)
    paths = [s.image.path for s in faces.stimuli.order_by("name")[:2]]
    images = load_batch(paths, spec.input_size).images
    with torch.no_grad():  # the trunk was frozen: its fc is still dlib's descriptor
        descriptor = load_model(model_spec(dlib_base))(normalize(images, spec))
        trunk = network.avgpool(network.layers(network.stem(normalize(images, spec))))
        torch.testing.assert_close(network.fc(trunk.flatten(1)), descriptor)
    # LRP through the child (affine layers canonised, residual sums, the new head) conserves
    # the target's relevance when the biases that absorb relevance are zero
    exact = load_model(spec).double()
    with torch.no_grad():
        for module in exact.modules():
            if getattr(module, "bias", None) is not None:  # conv, affine and linear biases
                module.bias.zero_()
    relevance = compute_relevance(exact, spec, images.double(), targets=[0, 1])
    assert relevance.backend == "zennit"
    np.testing.assert_allclose(relevance.maps.astype(np.float64).sum(axis=(1, 2)), 1.0, rtol=2e-3)

    # the two children in a study: the pipeline runs on both, the report groups by pretraining
    owner = django_user_model.objects.create_user("dlib-pi", password="pw")
    study = make_study(faces, trial_types=["triplet"], trials_per_participant=30, practice_trials=0)
    StudyMembership.objects.create(study=study, user=owner, role="owner")
    children = list(FaceModel.objects.filter(parent__in=[dlib_base, generated]).order_by("pk"))
    study.face_models.set(children)
    simulate_participants(study, 4)
    steps = pipeline_launch(study=study, user=owner, step_params=QUICK_STEPS)
    wait_for(steps["report"], timeout=600)
    for name, job in steps.items():
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, (name, job.error)
    similarity = Artifact.objects.get(kind=Artifact.Kind.SIMILARITY, face_model=child)
    assert similarity.summary["layers"]["fc"] == {"dimensions": 128}  # dlib's descriptor
    assert similarity.summary["n_stimuli"] == 24
    relevance_maps = Artifact.objects.get(kind=Artifact.Kind.RELEVANCE, face_model=child)
    assert relevance_maps.summary["n_stimuli"] == 24
    assert relevance_maps.summary["map_shape"] == [150, 150]
    report = Artifact.objects.get(kind=Artifact.Kind.REPORT, job=steps["report"])
    with (
        default_storage.open(report.file.name, "rb") as handle,
        zipfile.ZipFile(handle) as zipped,
    ):
        summary = pd.read_csv(zipped.open("tables/model_summary.csv"))
        levels = pd.read_csv(zipped.open("tables/replication_levels.csv"))
        verdicts = pd.read_csv(zipped.open("tables/sanity_verdicts.csv"))
        invariance = pd.read_csv(zipped.open("tables/sanity_invariance.csv"))
        html = zipped.read("index.html").decode()
    assert {name.split("/")[0] for name in summary["model"]} == {m.name for m in children}
    assert "only pretraining" in set(levels["relation"]), levels
    assert "facerec_dlib" in html
    # the relevance sanity checks ran on the dlib child too (randomisation and input shift)
    assert set(verdicts["model"]) == set(invariance["model"]) == {m.name for m in children}

    # relevance maps of the 150 px child and the 64 px child compared; the child dissected
    maps = job_launch(
        kind=Job.Kind.MAPS, stimulus_set=faces, face_models=children, params={"n_boot": 100}
    )
    dissection = job_launch(
        kind=Job.Kind.DISSECTION,
        stimulus_set=faces,
        face_models=[child],
        params={"layers": ["layers.13"]},
    )
    for job in (maps, dissection):
        assert wait_for(job, timeout=600).status == Job.Status.SUCCEEDED, (job.kind, job.error)
    compared = Artifact.objects.get(kind=Artifact.Kind.MAP_COMPARISON, job=maps)
    assert compared.summary["models"] == [m.name for m in children]
    assert compared.summary["n_images"] == 24
    counts = Artifact.objects.get(kind=Artifact.Kind.DISSECTION, face_model=child)
    assert (counts.summary["layers"], counts.summary["n_stimuli"]) == (["layers.13"], 24)
    assert counts.summary["networks"] == ["model", "random"]  # and a re-initialised baseline
