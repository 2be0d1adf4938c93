"""Malformed numbers, ids and pages in URLs, query strings and forms: 400/404 or a form error."""

import pytest
from django.urls import reverse

from studyapp.models import FaceModel, Job
from tests.factories import make_relevance_artifact, make_study

pytestmark = pytest.mark.django_db
HUGE = "9" * 30  # beyond PostgreSQL's bigint


@pytest.fixture
def relevance(settings, tmp_path, staff_client):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = make_study()
    job = Job.objects.create(kind="relevance", stimulus_set=study.stimulus_set, study=study)
    stimuli = study.stimulus_set.stimuli.count()
    return make_relevance_artifact(study.stimulus_set, job=job, stimuli=stimuli)


@pytest.mark.parametrize("page", ["abc", "", "0", "-3", "1e5", HUGE, "2.5", "\x00"])
def test_artifact_pages_accept_any_page_parameter(staff_client, relevance, page):
    response = staff_client.get(reverse("research-artifact", args=[relevance.pk]), {"page": page})
    assert response.status_code == 200
    assert response.context["stimuli"], "an invalid page shows the first or last page"


@pytest.mark.parametrize(
    "url",
    [
        f"/research/jobs/{HUGE}/",
        f"/research/jobs/{HUGE}/retry",
        f"/research/artifacts/{HUGE}/",
        f"/research/artifacts/{HUGE}/download",
        f"/research/artifacts/{HUGE}/overlay/1.png",
        f"/admin/studyapp/job/{HUGE}/change/",
        f"/admin/studyapp/stimulus/{HUGE}/change/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_ids_beyond_bigint_are_not_found(staff_client, url, method):
    assert getattr(staff_client, method)(url).status_code in {302, 403, 404, 405}


def test_overlay_of_a_huge_stimulus_id_is_not_found(staff_client, relevance):
    url = f"/research/artifacts/{relevance.pk}/overlay/{HUGE}.png"
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize("ids", ["abc", "1,x", HUGE, f"1,{HUGE}", "-1", ",,,"])
def test_job_status_ids_are_checked(staff_client, ids):
    response = staff_client.get(reverse("research-jobs-status"), {"ids": ids})
    assert response.status_code in {200, 400}
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("field", "value"),
    [("seed", HUGE), ("num_classes", HUGE), ("input_size", f"{HUGE}, 2"), ("mean", "1e999 0 0")],
)
def test_model_form_numbers_out_of_range_are_form_errors(staff_client, field, value):
    data = {
        "name": "m",
        "architecture": "small_cnn",
        "pretraining": "none",
        "num_classes": "2",
        "seed": "0",
        field: value,
    }
    response = staff_client.post(reverse("research-models"), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not FaceModel.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["status__exact=nonsense", f"stimulus_set__id__exact={HUGE}", "stimulus_set__id__exact=x"],
)
def test_admin_list_filters_with_bad_values_do_not_fail(staff_client, query):
    response = staff_client.get(f"/admin/studyapp/job/?{query}")
    assert response.status_code in {200, 302}


@pytest.mark.parametrize(
    "params",
    [
        '{"seed": 1e999}',
        '{"seed": NaN}',
        '{"x": -Infinity}',
        '{"label_column": "a\\u0000b"}',
        '{"label_column": "\\ud800"}',
        '{"\\u0000": 1}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_job_params_that_postgres_cannot_store_are_form_errors(staff_client, params):
    study = make_study()
    data = {"kind": "embeddings", "stimulus_set": study.stimulus_set.pk, "params": params}
    response = staff_client.post(reverse("research-jobs"), data)
    assert response.status_code == 200
    assert "params" in response.context["form"].errors
    assert not Job.objects.exists()


@pytest.mark.parametrize("selected", ["abc", HUGE, "-1", "1.5", "\x00"])
@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        ("admin:studyapp_job_changelist", "cancel"),
        ("admin:studyapp_job_changelist", "retry"),
        ("admin:studyapp_study_changelist", "make_live"),
        ("admin:studyapp_study_changelist", "make_closed"),
        ("admin:auth_user_changelist", "delete_selected"),
        ("admin:auth_group_changelist", "delete_selected"),
    ],
)
def test_admin_actions_with_bad_selections_do_not_fail(staff_client, changelist, action, selected):
    response = staff_client.post(
        reverse(changelist), {"action": action, "_selected_action": [selected]}
    )
    assert response.status_code in {200, 302}
