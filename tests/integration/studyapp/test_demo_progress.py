"""`bin/demo`'s progress: redrawn bars on a terminal, one line per finished job elsewhere."""

import threading

import pytest
from django.db import connection

from studyapp import demo_runner
from studyapp.models import Job
from tests.factories import make_study

pytestmark = pytest.mark.django_db(transaction=True)


def job(study, kind: str, status: str, done: int = 0, total: int = 0, **fields) -> Job:
    return Job.objects.create(
        kind=kind,
        stimulus_set=study.stimulus_set,
        study=study,
        status=status,
        progress_done=done,
        progress_total=total,
        **fields,
    )


def line(job: Job, status: str, done: int, total: int) -> str:
    return f"{job.kind} · {job.study.slug}: {status} ({done}/{total})"


def finish_later(job: Job, seconds: float) -> threading.Timer:
    def finish():
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress_done=4)
        connection.close()

    timer = threading.Timer(seconds, finish)
    timer.start()
    return timer


def test_without_a_terminal_each_finished_job_prints_one_line(capsys):
    study = make_study()
    done = job(study, "embeddings", "succeeded", 2, 2)
    running = job(study, "relevance", "running", 1, 4)
    timer = finish_later(running, 1.6)  # the runner polls every 0.5 s meanwhile
    demo_runner.wait_for_jobs([done, running], progress=True, timeout=30)
    timer.join()
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        line(done, "succeeded", 2, 2),
        line(running, "succeeded", 4, 4),
    ]
    assert captured.err == ""


def test_on_a_terminal_the_bars_are_drawn_instead_of_lines(capsys, monkeypatch):
    monkeypatch.setattr(demo_runner, "redraw_bars", lambda: True)
    demo_runner.wait_for_jobs([job(make_study(), "embeddings", "succeeded", 2, 2)], progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2/2" in captured.err


def test_a_failed_job_prints_its_line_then_stops_the_demo(capsys):
    failed = job(make_study(), "masking", "failed", error="boom")
    with pytest.raises(demo_runner.JobFailed, match="boom"):
        demo_runner.wait_for_jobs([failed], progress=True, timeout=30)
    assert capsys.readouterr().out.splitlines() == [line(failed, "failed", 0, 0)]
