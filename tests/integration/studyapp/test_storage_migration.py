"""Migration 0006: reports keyed ``report/<slug>`` become reports of their study; a report
whose study is gone is deleted with its file (a new study may reuse the slug)."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from studyapp.storage import store_file

BEFORE = [("studyapp", "0005_analysis_settings")]
AFTER = [("studyapp", "0006_storage")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_reports_get_their_study_and_orphans_go(django_capture_on_commit_callbacks):
    apps = migrate(BEFORE)
    StimulusSet = apps.get_model("studyapp", "StimulusSet")
    Study = apps.get_model("studyapp", "Study")
    Job = apps.get_model("studyapp", "Job")
    Artifact = apps.get_model("studyapp", "Artifact")
    stimulus_set = StimulusSet.objects.create(name="set")
    study = Study.objects.create(
        slug="kept",
        title="t",
        stimulus_set=stimulus_set,
        trial_types=["triplet"],
        consent_text="c",
        instructions="i",
    )
    rows = {}
    for label, job_study in (("kept", study), ("orphan", None)):
        job = Job.objects.create(kind="report", stimulus_set=stimulus_set, study=job_study)
        name, sha = store_file(f"jobs/{job.pk}/report.zip", label.encode())
        rows[label] = Artifact.objects.create(
            kind="report",
            stimulus_set=stimulus_set,
            method=f"report/{label}",
            params_hash="0" * 64,
            code_version="v",
            file=name,
            sha256=sha,
            job=job,
        )
    with django_capture_on_commit_callbacks(execute=True):
        apps = migrate(AFTER)
    Artifact = apps.get_model("studyapp", "Artifact")
    kept = Artifact.objects.get(pk=rows["kept"].pk)
    assert (kept.study_id, kept.method) == (study.pk, "report")
    assert not Artifact.objects.filter(pk=rows["orphan"].pk).exists()
    assert not default_storage.exists(rows["orphan"].file.name)
    assert default_storage.exists(kept.file.name)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
