"""Transient database errors are retried with backoff; other errors fail the job at once.

Runs the task functions in this process (``apply``): Celery executes retries of an eagerly
applied task locally, so the retry policy itself is exercised without waiting on a broker.
"""

import pytest
from django.db import OperationalError

from studyapp.models import Job
from studyapp.services.jobs import job_launch
from tasks import jobs as job_tasks
from tasks.computations.base import Plan
from tests.compute_fixtures import small_model

pytestmark = pytest.mark.django_db(transaction=True)


class FlakyPlan:
    """Raises a transient error ``failures`` times, then plans nothing to do."""

    def __init__(self, failures: int, error: Exception):
        self.calls = 0
        self.failures = failures
        self.error = error

    def plan(self, job):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return Plan([], 0, reused="nothing to do")


@pytest.fixture
def job(faces, monkeypatch):
    monkeypatch.setattr(job_tasks.plan_job, "retry_backoff", False)  # no sleeping in tests
    monkeypatch.setattr("studyapp.services.jobs.enqueue", lambda *args: None)
    return job_launch(kind="relevance", stimulus_set=faces, face_models=[small_model("flaky")])


def test_a_transient_error_is_retried_until_it_passes(job, monkeypatch):
    flaky = FlakyPlan(2, OperationalError("server closed the connection unexpectedly"))
    monkeypatch.setattr(job_tasks, "computation_for", lambda kind: flaky)
    job_tasks.plan_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert flaky.calls == 3
    assert job.status == Job.Status.SUCCEEDED


def test_other_errors_fail_the_job_without_retrying(job, monkeypatch):
    broken = FlakyPlan(99, ValueError("The 'label_column' is missing"))
    monkeypatch.setattr(job_tasks, "computation_for", lambda kind: broken)
    job_tasks.plan_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert broken.calls == 1
    assert job.status == Job.Status.FAILED
    assert job.error == "ValueError: The 'label_column' is missing"
