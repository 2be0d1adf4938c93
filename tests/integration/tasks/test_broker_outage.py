"""A broker that is really stopped and started again, without persistence: no job is lost.

Each test runs on both brokers the platform supports, each a private server on a free port (not
the shared one): ``redis-server --save ''`` and a RabbitMQ node whose data is wiped when it is
killed. A job launched while the broker is down is saved and answered normally; a broker restart
in the middle of a job empties its queues. Either way the workers' requeue sweep (every second
here) sends the lost messages again and the job completes, each batch run once.
"""

import time

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse

from studyapp.models import Artifact, Job, JobBatch, StudyMembership
from studyapp.services.jobs import job_launch
from studyapp.views.job_messages import QUEUE_DOWN
from tests.compute_fixtures import (
    small_model,
    vgg_faces_job_inputs,
    wait_for,
    wait_until_mid_job,
)
from tests.factories import make_study
from tests.private_servers import PrivateRabbitMQ, PrivateRedis, celery_point_at
from tests.worker import Worker, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(params=[PrivateRedis, PrivateRabbitMQ], ids=["redis", "rabbitmq"])
def broker(request, settings, monkeypatch):
    """The private broker, stopped; this process and the workers use it."""
    server = request.param()
    celery_point_at(server.url(), settings, monkeypatch)
    yield server
    server.remove()


@pytest.fixture
def environment(worker_media):
    return worker_environment(
        worker_media,
        FACESIM_JOB_BATCH_SIZE="8",
        FACESIM_REQUEUE_INTERVAL_S="1",
        FACESIM_REQUEUE_AFTER_S="2",
    )


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_a_job_launched_while_the_broker_is_down_runs_when_it_is_back(
    outage, broker, environment, media, faces, client, django_user_model, tmp_path
):
    if outage == "frozen":
        broker.start()
        broker.freeze()
    client.force_login(django_user_model.objects.create_user("ada"))
    model = small_model("outage model")
    started = time.monotonic()
    response = client.post(
        reverse("research-jobs"),
        {"kind": "embeddings", "stimulus_set": faces.pk, "face_models": [model.pk]},
    )
    answered_after = time.monotonic() - started
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert [m.message for m in get_messages(response.wsgi_request)] == [QUEUE_DOWN]
    job = Job.objects.get()
    assert (job.status, job.dispatch_state) == ("queued", "requested")
    assert 'id="waiting-for-queue"' in client.get(response["Location"]).content.decode()

    broker.thaw() if outage == "frozen" else broker.start()
    worker = Worker(environment, tmp_path / "worker.log").start()
    try:
        job = wait_for(job, timeout=120)
    finally:
        worker.stop()
    assert job.status == "succeeded", job.error
    assert Artifact.objects.filter(kind="similarity", face_model=model).count() == 1
    assert "Requeue sweep: sent 1 lost messages again" in (tmp_path / "worker.log").read_text()
    assert answered_after < 5


def test_every_launch_path_answers_normally_while_the_broker_is_down(
    broker, media, faces, staff_client
):
    """Pipeline, retry on the job page and the admin's retry: saved, queued, a clear message."""
    model = small_model("pipeline while down")
    study = make_study(faces)
    study.face_models.set([model])
    StudyMembership.objects.create(study=study, user=User.objects.get(), role="owner")
    failed = [
        Job.objects.create(kind="embeddings", stimulus_set=faces, study=study, status="failed")
        for _ in range(2)
    ]
    responses = [
        staff_client.post(reverse("research-pipeline", args=[study.slug])),
        staff_client.post(reverse("research-job-action", args=[failed[0].pk, "retry"])),
        staff_client.post(
            reverse("admin:studyapp_job_changelist"),
            {"action": "retry", "_selected_action": [failed[1].pk]},
        ),
    ]
    for response in responses:
        assert response.status_code == 302
        assert QUEUE_DOWN in [m.message for m in get_messages(response.wsgi_request)]
    released = Job.objects.filter(status="queued", dispatch_state="requested")
    assert set(released.values_list("kind", flat=True)) == {"embeddings", "relevance"}
    assert released.count() == 4  # the pipeline's first two and both retried jobs
    assert Job.objects.filter(status="queued").count() == 7  # 3 more wait for prerequisites


def test_a_broker_restart_in_the_middle_of_a_job_loses_nothing(
    broker, environment, media, tmp_path
):
    faces, model = vgg_faces_job_inputs(tmp_path, "outage")
    broker.start()
    worker = Worker(environment, tmp_path / "worker.log").start()
    try:
        job = job_launch(kind="relevance", stimulus_set=faces, face_models=[model])
        wait_until_mid_job(job)  # a batch stored, another running, more waiting
        broker.kill()
        waiting = job.batches.filter(status="pending").count()
        time.sleep(1)
        broker.start()  # empty: the waiting batches' messages are gone
        job = wait_for(job, timeout=150)
    finally:
        worker.stop()

    assert waiting >= 1
    assert job.status == "succeeded", job.error
    assert job.progress_done == job.progress_total == 48
    batches = list(job.batches.all())
    assert len(batches) == 6
    assert all(b.status == JobBatch.Status.DONE for b in batches)
    assert [b.attempts for b in batches] == [1] * 6  # none ran twice
    assert Artifact.objects.filter(kind="relevance", face_model=model).count() == 1
    assert "Requeue sweep: sent" in (tmp_path / "worker.log").read_text()
