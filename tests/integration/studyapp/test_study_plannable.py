"""A design must be plannable from its stimulus set: checked on save, going live and at consent."""

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.forms import StudyForm
from studyapp.models import Participant, Study, StudyMembership
from studyapp.services.studies import study_set_status
from tests.factories import analysis_posted, make_stimulus_set, make_study

pytestmark = pytest.mark.django_db


def form_data(stimulus_set, **fields) -> dict:
    data = {
        "title": "Design",
        "slug": "design",
        "stimulus_set": stimulus_set.pk,
        "trial_types": ["triplet"],
        "rating_scale": "1-7",
        "trials_per_participant": 10,
        "target_participants": 5,
        "practice_trials": 1,
        "break_every": 0,
        "repeat_rate": 0.1,
        "catch_rate": 0.1,
        "min_exposure_ms": 150,
        "min_rt_ms": 100,
        "consent_text": "Agree?",
        "instructions": "Choose.",
        "min_viewport_width": 0,
        "min_viewport_height": 0,
        "device_requirement": "any",
        "comprehension_attempts": 2,
        **analysis_posted(),
    }
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("n_images", "fields", "error"),
    [
        (2, {"trial_types": ["triplet"]}, "at least 3 images; this one has 2"),
        (2, {"trial_types": ["afc"]}, "at least 3 images; this one has 2"),
        (1, {"trial_types": ["rating"]}, "at least 2 images; this one has 1"),
        (2, {"trial_types": ["rating", "triplet"]}, "at least 3 images"),
        (12, {"trial_types": ["rating", "triplet", "afc"], "trials_per_participant": 2}, "one per"),
    ],
)
def test_a_design_the_set_cannot_plan_is_a_form_error(n_images, fields, error):
    stimulus_set = make_stimulus_set(n_images, labels=False)
    form = StudyForm(form_data(stimulus_set, **fields))
    assert not form.is_valid()
    assert list(form.errors) == ["__all__"], form.errors  # the design check, nothing else
    assert any(error in message for message in form.non_field_errors()), form.errors


def test_a_rating_study_on_two_images_is_valid_and_plans(client):
    stimulus_set = make_stimulus_set(2, labels=False)
    form = StudyForm(form_data(stimulus_set, trial_types=["rating"]))
    assert form.is_valid(), form.errors
    study = study_set_status(study=form.save(), status="live", user=None)
    assert client.get(reverse("study-start", args=[study.slug])).status_code == 200
    response = client.post(
        reverse("study-consent", args=[study.slug]), {"decision": "agree", "participant": "p1"}
    )
    assert response.status_code == 302
    assert study.participants.get().trials.filter(trial_type="rating").exists()


def test_the_new_study_page_refuses_a_triplet_study_on_two_images(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("r", password="pw"))
    stimulus_set = make_stimulus_set(2, labels=False)
    response = client.post(reverse("research-study-new"), form_data(stimulus_set))
    assert response.status_code == 200
    assert "at least 3 images" in response.content.decode()
    assert not Study.objects.exists()


def test_the_admin_refuses_to_save_a_triplet_study_on_two_images(staff_client):
    stimulus_set = make_stimulus_set(2, labels=False)
    data = form_data(stimulus_set, face_models=[])
    data.pop("face_models")
    response = staff_client.post(reverse("admin:studyapp_study_add"), data)
    assert response.status_code == 200
    assert "at least 3 images" in response.content.decode()
    assert not Study.objects.exists()


def _invalid_draft() -> Study:
    """A draft saved before the check existed (or through the ORM): triplets on two images."""
    return make_study(make_stimulus_set(2, labels=False), status=Study.Status.DRAFT)


def test_going_live_is_refused_for_an_unplannable_design(django_user_model):
    study = _invalid_draft()
    user = django_user_model.objects.create_user("o", password="pw")
    with pytest.raises(ValueError, match=r"cannot go live: .*at least 3 images"):
        study_set_status(study=study, status=Study.Status.LIVE, user=user)
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT


def test_the_status_page_and_the_admin_action_refuse_to_go_live(staff_client, django_user_model):
    study = _invalid_draft()
    owner = django_user_model.objects.create_user("o", password="pw")
    StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.OWNER)
    client = Client()
    client.force_login(owner)
    response = client.post(
        reverse("research-study-status", args=[study.slug]), {"status": "live"}, follow=True
    )
    assert "at least 3 images" in response.content.decode()
    response = staff_client.post(
        reverse("admin:studyapp_study_changelist"),
        {"action": "make_live", "_selected_action": [study.pk]},
        follow=True,
    )
    assert "at least 3 images" in response.content.decode()
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT


def test_a_live_study_that_became_unplannable_answers_politely_at_start_and_consent(client):
    study = make_study()
    Study.objects.filter(pk=study.pk).update(stimulus_set=make_stimulus_set(2, labels=False))
    start = client.get(reverse("study-start", args=[study.slug]))
    assert start.status_code == 200
    assert "not available right now" in start.content.decode()
    consent = client.post(
        reverse("study-consent", args=[study.slug]), {"decision": "agree", "participant": "p1"}
    )
    assert consent.status_code == 200
    assert "not available right now" in consent.content.decode()
    assert not Participant.objects.exists()
