"""Every job kind through Redis and a real worker process, on PostgreSQL."""

import numpy as np
import pytest
from django.db import connection

from studyapp.models import Artifact, FaceModel, Job, JobBatch
from studyapp.services.jobs import job_cancel, job_launch, job_retry
from studyapp.storage import read_arrays
from tests.compute_fixtures import small_model, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def launch(kind, stimulus_set, models, **params):
    return job_launch(kind=kind, stimulus_set=stimulus_set, face_models=models, params=params)


def test_finetune_embeddings_relevance_and_masking(worker, faces):
    base = small_model("base small cnn")
    gender = wait_for(
        launch(
            "finetune",
            faces,
            [base],
            label_column="gender",
            seed=1,
            max_epochs=8,
            train_last=None,
            group_column="identity",
        )
    )
    identity = wait_for(
        launch(
            "finetune",
            faces,
            [base],
            label_column="identity",
            seed=2,
            max_epochs=8,
            train_last=None,
            group_column=None,
        )
    )
    assert gender.status == identity.status == "succeeded", (gender.error, identity.error)
    assert gender.progress_total == 8  # finetuning progress counts epochs
    assert gender.progress_done == 8
    models = list(FaceModel.objects.filter(parent=base).order_by("task"))
    assert [m.task for m in models] == ["gender", "identity"]
    assert models[1].spec["class_names"] == [f"id{i:02d}" for i in range(6)]
    checkpoint = Artifact.objects.get(kind="checkpoint", job=gender)
    assert checkpoint.summary["model"] == models[0].pk
    assert 0.0 <= checkpoint.summary["val_accuracy"] <= 1.0

    embeddings = wait_for(launch("embeddings", faces, models, metrics=["correlation", "cosine"]))
    assert embeddings.status == "succeeded", embeddings.error
    assert embeddings.progress_done == embeddings.progress_total == 2 * 24
    assert embeddings.batches.count() == 2 * 3  # 24 stimuli in batches of 8, per model
    similarity = Artifact.objects.get(kind="similarity", face_model=models[0])
    arrays = read_arrays(similarity.file.name, similarity.sha256)
    rdm = arrays["features.11|correlation"]
    assert rdm.shape == (24, 24)
    np.testing.assert_allclose(np.diag(rdm), 0, atol=1e-5)
    np.testing.assert_allclose(rdm, rdm.T, atol=1e-5)
    assert similarity.summary["layers"]["classifier.1"]["dimensions"] > 0

    relevance = wait_for(launch("relevance", faces, models))
    assert relevance.status == "succeeded", relevance.error
    maps = Artifact.objects.get(kind="relevance", face_model=models[0])
    arrays = read_arrays(maps.file.name, maps.sha256)
    assert arrays["maps"].shape == (24, 64, 64)
    assert maps.params["target"] == "gender"  # the model's own task
    assert maps.summary["n_stimuli"] == 24

    masking = wait_for(launch("masking", faces, models, fractions=[0.1, 0.5], fill="zeros"))
    assert masking.status == "succeeded", masking.error
    result = Artifact.objects.get(kind="masking", job=masking)
    accuracy = np.array(result.summary["accuracy"])
    assert accuracy.shape == (3, 2, 2)  # sources (2 models + random) x models x fractions
    assert result.summary["sources"] == [m.name for m in models] + ["random"]
    assert np.all((accuracy >= 0) & (accuracy <= 1))
    assert np.array(result.summary["asymmetry_auc"]).shape == (2, 2)


def test_a_finished_artifact_is_reused_not_recomputed(worker, faces):
    model = small_model("reuse model")
    first = wait_for(launch("relevance", faces, [model]))
    second = wait_for(launch("relevance", faces, [model]))
    assert first.status == second.status == "succeeded"
    assert "reused" in second.note
    assert second.batches.count() == 0
    assert Artifact.objects.filter(kind="relevance", face_model=model).count() == 1


def test_masking_without_relevance_maps_fails_with_a_clear_message(worker, faces):
    models = [small_model("no maps a"), small_model("no maps b", seed=1)]
    job = wait_for(launch("masking", faces, models))
    assert job.status == "failed"
    assert "Relevance maps are missing for ['no maps a', 'no maps b']" in job.error
    assert "Traceback" in job.traceback


def test_a_missing_weights_file_fails_fast(worker, faces, tmp_path):
    model = small_model("vanishing weights")
    model.weights_path = str(tmp_path / "gone.pt")
    model.spec = {
        **model.spec,
        "weights_path": str(tmp_path / "gone.pt"),
        "weights_format": "torchvision",
    }
    model.save()
    job = wait_for(launch("relevance", faces, [model]), timeout=60)
    assert job.status == "failed"
    assert "gone.pt" in job.error
    assert job.batches.filter(status="failed").count() >= 1


def test_a_corrupt_image_fails_that_item_and_the_rest_completes(worker, faces, media):
    broken = faces.stimuli.order_by("pk")[5]
    (media / broken.image.name).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    model = small_model("corrupt-image model")
    job = wait_for(launch("relevance", faces, [model]))
    assert job.status == "succeeded", job.error
    artifact = Artifact.objects.get(kind="relevance", face_model=model)
    assert artifact.summary["n_stimuli"] == 23
    assert [f["stimulus"] for f in artifact.summary["failed"]] == [broken.name]
    assert "1 stimuli failed" in job.note
    assert broken.pk not in read_arrays(artifact.file.name, artifact.sha256)["stimulus_ids"]


def test_cancel_and_retry(worker, faces):
    model = small_model("cancel model")
    job = launch("embeddings", faces, [model])
    job = job_cancel(job=job)
    assert job.status == "cancelled"
    job = wait_for(job_retry(job=job))
    assert job.status == "succeeded", job.error
    assert Artifact.objects.filter(kind="similarity", face_model=model).count() == 1


def test_a_task_delivered_twice_makes_one_artifact(worker, faces):
    from celery import current_app

    model = small_model("twice model")
    job = launch("relevance", faces, [model])
    job.refresh_from_db()
    current_app.send_task("facesim.plan_job", args=[job.pk, job.dispatch], queue="cpu")  # again
    job = wait_for(job)
    assert job.status == "succeeded", job.error
    for batch in job.batches.all():
        current_app.send_task("facesim.run_batch", args=[batch.pk, batch.dispatch], queue="gpu")
    current_app.send_task("facesim.finalize_job", args=[job.pk, job.dispatch], queue="cpu")
    with connection.cursor() as cursor:  # let the extra deliveries run
        cursor.execute("SELECT pg_sleep(3)")
    assert Artifact.objects.filter(kind="relevance", face_model=model).count() == 1
    assert JobBatch.objects.filter(job=job).count() == 3
    job.refresh_from_db()
    assert job.progress_done == job.progress_total == 24
    assert Job.objects.get(pk=job.pk).status == "succeeded"


def test_finetuning_reports_progress_per_epoch(faces, monkeypatch):
    """Run the finetune batch in this process: the job's progress is the epochs done."""
    from studyapp.services.jobs import job_start
    from tasks.computations.finetune import Finetune

    monkeypatch.setattr("studyapp.services.jobs.enqueue", lambda *args: None)
    job = launch(
        "finetune",
        faces,
        [small_model("progress base")],
        label_column="gender",
        max_epochs=5,
        patience=50,
        train_last=None,
    )
    plan = Finetune().plan(job)
    ((model_id, ids),) = plan.batches
    job_start(
        job_id=job.pk,
        batches=[JobBatch(index=0, face_model_id=model_id, stimulus_ids=ids)],
        total=plan.total,
    )
    Finetune().run_batch(job, job.batches.get())  # not completed: only the epochs counted
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (5, 5)
