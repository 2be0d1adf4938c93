"""The study form's adaptive-selection option: saved for triplet studies, refused without
triplets; without it plans are balanced and record no adaptive choice."""

import pytest
from django.urls import reverse

from studyapp.forms_compute import JobLaunchForm
from studyapp.models import AdaptivePlanChoice
from tests.factories import start_participant
from tests.integration.studyapp.test_study_design import owned_study, posted

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, django_user_model):
    user = django_user_model.objects.create_user("owner", password="pw")
    client.force_login(user)
    return user


def test_the_form_saves_the_batch_size_of_a_triplet_study(client, owner):
    study = owned_study(owner, status="draft")
    response = client.post(
        reverse("research-study-edit", args=[study.slug]), posted(study, adaptive_batch=5)
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.adaptive_batch == 5


def test_the_form_refuses_adaptive_selection_without_triplets(client, owner):
    study = owned_study(owner, status="draft")
    changes = {"adaptive_batch": 5, "trial_types": ["rating"]}
    response = client.post(
        reverse("research-study-edit", args=[study.slug]), posted(study, **changes)
    )
    assert response.status_code == 200
    assert "Adaptive selection chooses triplets" in response.content.decode()
    study.refresh_from_db()
    assert study.adaptive_batch == 0
    assert study.trial_types == ["triplet"]


def test_a_study_without_the_option_plans_balanced_and_records_nothing(owner):
    study = owned_study(owner)
    participant = start_participant(study, "plain")
    assert not AdaptivePlanChoice.objects.filter(participant=participant).exists()
    assert participant.trials.filter(role="main").count() == 10


def test_the_model_job_form_does_not_offer_fits_or_reports():
    offered = dict(JobLaunchForm().fields["kind"].choices)
    assert "adaptive" not in offered
    assert "report" not in offered
    assert "embeddings" in offered
