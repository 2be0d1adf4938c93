"""Private files (issue 10, points 1-3): nothing under /media/ but the images a study may
show; a report or a study's artifact needs a role on that study, a shared artifact a role on a
study that uses it; a deleted study's reports go with it, and so do the reports that hold an
erased participant's rows."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse

from studyapp.models import Artifact, AuditEvent, FaceModel, Job, StudyMembership
from studyapp.payloads import parse_response
from studyapp.services.responses import response_record
from studyapp.storage import store_file
from tests.factories import (
    answer_for,
    make_relevance_artifact,
    make_report_artifact,
    make_stimulus_set,
    make_study,
    start_participant,
)

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def owner_of(study, django_user_model, name: str):
    user = django_user_model.objects.create_user(name, password="pw")
    StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.OWNER)
    return user


def test_reports_job_outputs_and_weights_are_not_under_media(client, settings):
    study = make_study()
    report = make_report_artifact(study)
    weights, _ = store_file("weights/uploaded.pt", b"weights of a model")
    for name in (report.file.name, weights):
        assert client.get(f"/media/{name}").status_code == 404
        assert client.get(f"/media/stimuli/../{name}").status_code == 404
        assert (Path(settings.PRIVATE_ROOT) / name).is_file()
        assert not (Path(settings.MEDIA_ROOT) / name).exists()
    with pytest.raises(ValueError, match="no public URL"):
        default_storage.url(weights)


def test_stimulus_images_are_public_only_while_a_live_study_shows_them(
    client, django_user_model, django_assert_num_queries
):
    study = make_study(status="draft")
    stimulus = study.stimulus_set.stimuli.first()
    url = stimulus.image.url
    assert url.startswith("/media/stimuli/")
    owner = owner_of(study, django_user_model, "owner")
    stranger = django_user_model.objects.create_user("stranger", password="pw")
    admin = django_user_model.objects.create_superuser("admin", password="pw")

    assert client.get(url).status_code == 404  # a draft shows nobody anything
    assert logged_in(stranger).get(url).status_code == 404
    for user in (owner, admin):
        response = logged_in(user).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == stimulus.image.open("rb").read()

    study.status = "live"
    study.save()
    participant = start_participant(study)
    with django_assert_num_queries(1):  # one indexed look-up per participant image
        assert client.get(url).status_code == 200
    plan = client.get(reverse("api-plan", args=[participant.token])).json()
    assert plan["images"]
    assert all(client.get(image).status_code == 200 for image in plan["images"].values())
    study.status = "closed"
    study.save()
    assert client.get(url).status_code == 404
    assert client.get("/media/stimuli/no/such.png").status_code == 404


@pytest.mark.parametrize(
    ("mode", "header", "expected", "image_expected"),
    [
        ("x-accel-redirect", "X-Accel-Redirect", "/internal/private/{name}", "/internal/public/"),
        ("x-sendfile", "X-Sendfile", "{private}/{name}", "{public}/"),
    ],
)
def test_private_files_are_handed_to_the_web_server_when_configured(
    settings, client, django_user_model, mode, header, expected, image_expected
):
    study = make_study()
    report = make_report_artifact(study)
    owner = owner_of(study, django_user_model, "owner")
    settings.FILES_SERVE_MODE = mode
    response = logged_in(owner).get(reverse("research-artifact-download", args=[report.pk]))
    assert response.status_code == 200
    name = report.file.name
    assert response[header] == expected.format(name=name, private=settings.PRIVATE_ROOT)
    assert response.content == b""
    assert response["Content-Disposition"] == f'attachment; filename="{study.slug}-report.zip"'
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    image = study.stimulus_set.stimuli.first().image
    response = client.get(image.url)  # anonymous: the study is live
    assert response[header] == image_expected.format(public=settings.MEDIA_ROOT) + image.name
    assert response.content == b""


def test_redirect_mode_sends_the_browser_to_the_storage_url(settings, django_user_model):
    """With an object store, the storage's URL is a signed, short-lived one."""
    study = make_study()
    report = make_report_artifact(study)
    owner = owner_of(study, django_user_model, "owner")
    settings.FILES_SERVE_MODE = "redirect"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": settings.PRIVATE_ROOT,
                "base_url": "https://objects.example.org/",
            },
        },
    }
    response = logged_in(owner).get(reverse("research-artifact-download", args=[report.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"https://objects.example.org/{report.file.name}"
    stranger = django_user_model.objects.create_user("stranger", password="pw")
    url = reverse("research-artifact-download", args=[report.pk])
    assert logged_in(stranger).get(url).status_code == 404


def test_weights_over_the_upload_limit_are_refused_with_a_form_error(staff_client, settings):
    settings.FACESIM_MAX_WEIGHTS_UPLOAD_BYTES = 1_000
    form = {
        "name": "too big",
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": 2,
        "seed": 0,
        "weights_format": "torchvision",
        "weights": SimpleUploadedFile("big.pt", b"x" * 1_001),
    }
    response = staff_client.post(reverse("research-models"), form)
    assert response.status_code == 200
    assert "1,001 bytes; the limit is 1,000" in response.content.decode()
    assert not FaceModel.objects.exists()
    assert not (Path(settings.PRIVATE_ROOT) / "weights").exists()


def test_artifacts_need_a_role_on_the_study_they_were_made_for(django_user_model):
    stimulus_set = make_stimulus_set(4)
    face_model = FaceModel.objects.create(name="m", architecture="small_cnn", spec={})
    first = make_study(stimulus_set)
    first.face_models.add(face_model)
    second = make_study(stimulus_set)  # same set, no models yet
    launcher = django_user_model.objects.create_user("launcher", password="pw")
    StudyMembership.objects.create(study=first, user=launcher, role="collaborator")
    owner_of(first, django_user_model, "first-owner")
    other = logged_in(owner_of(second, django_user_model, "second-owner"))
    report = make_report_artifact(first, user=launcher)
    relevance = make_relevance_artifact(stimulus_set, face_model=face_model, job=report.job)

    def status(client, name, *args):
        return client.get(reverse(name, args=args)).status_code

    for name in ("research-artifact", "research-artifact-download"):
        assert status(other, name, report.pk) == 404
        assert status(other, name, relevance.pk) == 404  # their study lacks the model
    assert status(other, "research-job", report.job_id) == 404
    assert status(other, "research-report", first.slug) == 404

    second.face_models.add(face_model)  # now a study of theirs uses the relevance maps
    assert status(other, "research-artifact", relevance.pk) == 200
    assert status(other, "research-artifact-download", relevance.pk) == 200
    assert status(other, "research-artifact", report.pk) == 404  # still another study's

    launched = logged_in(launcher)
    assert status(launched, "research-artifact", report.pk) == 200
    StudyMembership.objects.filter(user=launcher).delete()
    assert status(launched, "research-artifact", report.pk) == 404
    assert status(launched, "research-job", report.job_id) == 404  # launching it is not a role


def test_a_deleted_studys_reports_go_with_it_and_never_reach_a_namesake(
    django_user_model, django_capture_on_commit_callbacks
):
    study = make_study(slug="reused")
    owner = logged_in(owner_of(study, django_user_model, "owner"))
    report = make_report_artifact(study, "old participants")
    assert b"old participants" in owner.get(reverse("research-report", args=["reused"])).content
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            reverse("research-study-delete", args=["reused"]), {"confirm_slug": "reused"}
        )
    assert response.status_code == 302
    assert not Artifact.objects.filter(pk=report.pk).exists()
    assert not Job.objects.filter(pk=report.job_id).exists()
    assert not default_storage.exists(report.file.name)
    assert AuditEvent.objects.get(action="delete").detail["reports"] == 1

    namesake = make_study(slug="reused")
    StudyMembership.objects.create(
        study=namesake, user=django_user_model.objects.get(username="owner"), role="owner"
    )
    assert owner.get(reverse("research-report", args=["reused"])).status_code == 404


def test_erasing_a_participant_deletes_the_reports_that_hold_their_rows(
    django_capture_on_commit_callbacks,
):
    study, untouched = make_study(), make_study()
    participant = start_participant(study, "erase-me")
    for trial in participant.trials.all()[:3]:
        response_record(token=participant.token, payload=parse_response(answer_for(trial, study)))
    report, kept = make_report_artifact(study), make_report_artifact(untouched)
    trials = participant.trials.count()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_participant_data", "--participant-id", "erase-me")
    assert not Artifact.objects.filter(pk=report.pk).exists()
    assert not default_storage.exists(report.file.name)
    assert Artifact.objects.filter(pk=kept.pk).exists()
    assert default_storage.exists(kept.file.name)
    event = AuditEvent.objects.get(action="data_deletion")
    # counts only
    assert event.detail == {"trials": trials, "responses": 3, "attributes": 0, "reports": 1}


def test_an_older_installs_private_files_move_out_of_media(settings, capsys):
    public, private = Path(settings.MEDIA_ROOT), Path(settings.PRIVATE_ROOT)
    for name in ("jobs/1/batch-00000-attempt-1.zip", "weights/w.pt", "stimuli/ab/ab.png"):
        (public / name).parent.mkdir(parents=True, exist_ok=True)
        (public / name).write_bytes(name.encode())
    call_command("storage_make_private", "--dry-run")
    assert "Would move 2 files" in capsys.readouterr().out
    assert (public / "weights/w.pt").exists()
    call_command("storage_make_private")
    assert (private / "jobs/1/batch-00000-attempt-1.zip").read_bytes() == (
        b"jobs/1/batch-00000-attempt-1.zip"
    )
    assert (private / "weights/w.pt").exists()
    assert not (public / "weights/w.pt").exists()
    assert (public / "stimuli/ab/ab.png").exists()  # stimulus images stay public
    (public / "weights").mkdir(exist_ok=True)
    (public / "weights/w.pt").write_bytes(b"another")
    with pytest.raises(CommandError, match="both the public and the private"):
        call_command("storage_make_private")
    assert (private / "weights/w.pt").read_bytes() == b"weights/w.pt"


def test_the_private_folder_may_not_lie_in_the_public_one(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_ROOT = tmp_path / "media" / "private"
    with pytest.raises(SystemCheckError, match=r"studyapp\.E001"):
        call_command("check")
    settings.PRIVATE_ROOT = tmp_path / "private"
    call_command("check")
