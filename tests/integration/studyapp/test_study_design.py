"""A study's design is frozen once a participant started (clone to change it), and every status
change, from every place that makes one, goes through one audited service."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.urls import reverse

from studyapp.forms import StudyForm
from studyapp.models import AuditEvent, Study, StudyMembership
from studyapp.services.demo import DemoConfig, demo_studies
from studyapp.services.studies import study_update
from tests.factories import analysis_posted, make_stimulus_set, make_study, start_participant

pytestmark = pytest.mark.django_db
DESIGN_CHANGES = {
    "trial_types": ["rating"],
    "rating_scale": "0-100",
    "trials_per_participant": 99,
    "practice_trials": 5,
    "repeat_rate": 0.2,
    "catch_rate": 0.3,
    "require_fullscreen": True,
}


@pytest.fixture
def owner(client, django_user_model):
    user = django_user_model.objects.create_user("owner", password="pw")
    client.force_login(user)
    return user


def owned_study(user, **fields) -> Study:
    study = make_study(**fields)
    StudyMembership.objects.create(study=study, user=user, role="owner")
    return study


def posted(study: Study, **changes) -> dict:
    """The edit form as a browser posts it, with ``changes``."""
    data = {
        name: value
        for name, value in model_to_dict(study, fields=StudyForm._meta.fields).items()
        if value is not None
    }
    data["face_models"] = [m.pk for m in data.get("face_models", [])]
    data.update(analysis_posted(study))
    data["timing"] = json.dumps(study.timing)
    data.update(changes)
    return data


def design(study: Study) -> dict:
    study.refresh_from_db()
    return {name: getattr(study, name) for name in (*DESIGN_CHANGES, "stimulus_set_id")}


def status_events() -> list[tuple]:
    return list(
        AuditEvent.objects.filter(action="status").values_list(
            "study__slug", "detail__before", "detail__after"
        )
    )


def test_edit_form_changes_the_design_before_anyone_started(client, owner):
    study = owned_study(owner, status="draft")
    other_set = make_stimulus_set(name="other faces")
    response = client.post(
        reverse("research-study-edit", args=[study.slug]),
        posted(study, stimulus_set=other_set.pk, **DESIGN_CHANGES),
    )
    assert response.status_code == 302
    assert design(study) == {**DESIGN_CHANGES, "stimulus_set_id": other_set.pk}


def test_edit_form_freezes_the_design_once_a_participant_started(client, owner):
    study = owned_study(owner)
    start_participant(study)
    before = design(study)
    url = reverse("research-study-edit", args=[study.slug])
    page = client.get(url).content.decode()
    assert 'id="design-frozen"' in page
    assert 'name="rating_scale" disabled' in page or 'disabled id="id_rating_scale"' in page

    other_set = make_stimulus_set(name="other faces")
    response = client.post(
        url, posted(study, title="New title", stimulus_set=other_set.pk, **DESIGN_CHANGES)
    )
    assert response.status_code == 302
    assert design(study) == before  # the posted design was ignored ...
    assert study.title == "New title"  # ... the texts still change


def test_the_questionnaire_is_frozen_once_a_participant_started(client, owner):
    study = owned_study(owner)
    url = reverse("research-study-edit", args=[study.slug])
    assert client.post(url, posted(study, questionnaire="age_band required")).status_code == 302
    asked = Study.objects.get(pk=study.pk).questionnaire
    assert [question["kind"] for question in asked] == ["age_band"]
    start_participant(study)
    response = client.post(url, posted(study, questionnaire="text comments"))
    assert response.status_code == 302, response.context["form"].errors
    assert Study.objects.get(pk=study.pk).questionnaire == asked


def test_the_service_refuses_a_design_change_after_a_participant_started():
    study = make_study()
    form = StudyForm(posted(study, rating_scale="0-100"), instance=study)
    assert form.is_valid(), form.errors  # built before anyone started: nothing disabled
    start_participant(study)
    with pytest.raises(ValueError, match="clone the study"):
        study_update(form=form)
    study.refresh_from_db()
    assert study.rating_scale == "1-7"


def test_admin_change_form_keeps_design_and_status(staff_client):
    study = make_study()
    start_participant(study)
    before = design(study)
    response = staff_client.post(
        reverse("admin:studyapp_study_change", args=[study.pk]),
        posted(study, title="Edited in the admin", status="closed", **DESIGN_CHANGES),
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert design(study) == before
    assert (study.title, study.status) == ("Edited in the admin", "live")
    assert status_events() == []


def test_edit_form_does_not_change_status(client, owner):
    study = owned_study(owner)
    response = client.post(
        reverse("research-study-edit", args=[study.slug]), posted(study, status="closed")
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.status == "live"
    assert status_events() == []


def test_saving_the_edit_form_keeps_what_changed_meanwhile(owner):
    study = owned_study(owner)
    form = StudyForm(posted(study, title="Edited"), instance=study)
    assert form.is_valid(), form.errors
    Study.objects.filter(pk=study.pk).update(status="closed", declined_count=3)  # meanwhile
    study_update(form=form)
    study.refresh_from_db()
    assert (study.title, study.status, study.declined_count) == ("Edited", "closed", 3)


def test_status_button_writes_one_event(client, owner):
    study = owned_study(owner)
    client.post(reverse("research-study-status", args=[study.slug]), {"status": "closed"})
    assert status_events() == [(study.slug, "live", "closed")]
    client.post(reverse("research-study-status", args=[study.slug]), {"status": "closed"})
    assert len(status_events()) == 1  # no change, no event


def test_admin_bulk_actions_write_one_event_per_study(staff_client):
    studies = [make_study(), make_study(status="draft")]
    url = reverse("admin:studyapp_study_changelist")
    ids = [s.pk for s in studies]
    staff_client.post(url, {"action": "make_closed", "_selected_action": ids})
    assert sorted(status_events()) == sorted(
        [(studies[0].slug, "live", "closed"), (studies[1].slug, "draft", "closed")]
    )
    staff_client.post(url, {"action": "make_live", "_selected_action": ids})
    assert Study.objects.filter(pk__in=ids, status="live").count() == 2
    assert len(status_events()) == 4
    events = AuditEvent.objects.filter(action="status")
    assert {e.user.username for e in events} == {"staff"}


def test_admin_deletions_are_audited(staff_client):
    studies = [make_study(), make_study()]
    start_participant(studies[0])
    single = make_study()
    staff_client.post(reverse("admin:studyapp_study_delete", args=[single.pk]), {"post": "yes"})
    staff_client.post(
        reverse("admin:studyapp_study_changelist"),
        {"action": "delete_selected", "_selected_action": [s.pk for s in studies], "post": "yes"},
    )
    assert not Study.objects.exists()
    events = AuditEvent.objects.filter(action="delete")
    assert sorted(events.values_list("study_slug", "detail__participants")) == sorted(
        [(studies[0].slug, 1), (studies[1].slug, 0), (single.slug, 0)]
    )
    assert {e.user.username for e in events} == {"staff"}


def test_admin_add_form_makes_a_draft_owned_by_its_author(staff_client):
    stimulus_set = make_stimulus_set()
    data = posted(make_study(stimulus_set), slug="admin-made", status="live")
    response = staff_client.post(reverse("admin:studyapp_study_add"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    study = Study.objects.get(slug="admin-made")
    assert study.status == "draft"
    assert study.memberships.get().user.username == "staff"


def test_demo_studies_open_through_the_audited_service(django_user_model):
    owner = django_user_model.objects.create_user("demo-owner")
    studies = demo_studies(
        stimulus_set=make_stimulus_set(), owner=owner, config=DemoConfig(suffix="-t")
    )
    assert all(s.status == "live" for s in studies)
    assert sorted(status_events()) == sorted((s.slug, "draft", "live") for s in studies)
    demo_studies(stimulus_set=studies[0].stimulus_set, owner=owner, config=DemoConfig(suffix="-t"))
    assert len(status_events()) == len(studies)  # kept as they are


def test_clone_makes_a_draft_with_the_same_design_and_no_participants(
    client, owner, django_user_model
):
    author = django_user_model.objects.create_user("author")
    study = owned_study(author, rating_scale="0-100", trial_types=["rating", "triplet"])
    StudyMembership.objects.create(study=study, user=owner, role="collaborator")
    start_participant(study)
    response = client.post(reverse("research-study-clone", args=[study.slug]))
    clone = Study.objects.exclude(pk=study.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("research-study-edit", args=[clone.slug])
    assert clone.slug == f"{study.slug}-copy"
    assert (clone.status, clone.title) == ("draft", f"Copy of {study.title}")
    same = (*Study.DESIGN_FIELDS, "consent_text", "instructions", "debrief", "break_every")
    assert {f: getattr(clone, f) for f in same} == {f: getattr(study, f) for f in same}
    assert not clone.participants.exists()
    assert list(clone.memberships.values_list("user__username", "role")) == [("owner", "owner")]
    assert AuditEvent.objects.get(action="clone").detail == {"source": study.slug}
    # the clone's design is editable; a second clone gets its own slug
    assert 'id="design-frozen"' not in client.get(response["Location"]).content.decode()
    client.post(reverse("research-study-clone", args=[study.slug]))
    assert Study.objects.filter(slug=f"{study.slug}-copy-2").exists()


def test_a_viewer_cannot_clone(client, owner, django_user_model):
    study = make_study()
    StudyMembership.objects.create(study=study, user=owner, role="viewer")
    response = client.post(reverse("research-study-clone", args=[study.slug]))
    assert response.status_code == 403
    assert Study.objects.count() == 1


def test_the_analysis_settings_are_form_fields_that_round_trip(client, owner):
    from analysis import AnalysisParameters

    study = owned_study(owner, status="draft", analysis_settings={"n_boot": 40})
    url = reverse("research-study-edit", args=[study.slug])
    page = client.get(url).content.decode()
    assert 'id="id_analysis_settings"' not in page  # no JSON text box
    assert 'name="analysis_n_boot" value="40"' in page  # the stored value
    assert "Default: 10,000." in page  # permutations: the default named in the help
    for section in ("design", "texts", "recruitment", "analysis"):
        assert f'id="section-{section}"' in page
    changes = {
        "analysis_methods": ["spearman", "pearson"],
        "analysis_primary_method": "pearson",
        "analysis_n_permutations": 500,
        "analysis_min_catch_accuracy": "",  # the rule switched off
        "analysis_trial_rt_high_ms": "",
    }
    response = client.post(url, posted(study, **changes))
    assert response.status_code == 302
    study.refresh_from_db()
    stored = AnalysisParameters.from_dict(study.analysis_settings)
    assert stored.methods == ("spearman", "pearson")
    assert (stored.primary_method, stored.n_boot, stored.n_permutations) == ("pearson", 40, 500)
    assert stored.exclusions.min_catch_accuracy is None
    assert stored.exclusions.trial_rt_bounds_ms == (150.0, None)
    assert stored.exclusions.require_completed  # a ticked box stays ticked
    again = StudyForm(instance=study).initial
    assert again["analysis_primary_method"] == "pearson"
    assert again["analysis_trial_rt_low_ms"] == 150.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"analysis_n_boot": 1}, "Ensure this value is greater than or equal to 2."),
        ({"analysis_n_boot": "many"}, "Enter a whole number."),
        ({"analysis_methods": []}, "This field is required."),
        ({"analysis_methods": ["kendall"]}, "Select a valid choice. kendall is not one"),
        ({"analysis_min_catch_accuracy": 2}, "less than or equal to 1."),
        (
            {"analysis_methods": ["spearman"], "analysis_primary_method": "pearson"},
            "The &#x27;primary_method&#x27; parameter of AnalysisParameters",
        ),
        (
            {"analysis_trial_rt_low_ms": 900, "analysis_trial_rt_high_ms": 100},
            "&#x27;trial_rt_bounds_ms&#x27; parameter",
        ),
    ],
)
def test_bad_analysis_settings_are_named_and_nothing_is_saved(client, owner, changes, message):
    study = owned_study(owner, status="draft")
    url = reverse("research-study-edit", args=[study.slug])
    response = client.post(url, posted(study, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    study.refresh_from_db()
    assert study.analysis_settings == {}


def test_the_slug_is_made_from_the_title_when_left_empty(client, owner):
    stimulus_set = make_stimulus_set()
    data = posted(make_study(stimulus_set, slug="taken"), title="Faces of Zürich", slug="")
    data["stimulus_set"] = stimulus_set.pk
    make_study(stimulus_set, slug="faces-of-zurich")
    response = client.post(reverse("research-study-new"), data)
    assert response.status_code == 302
    assert Study.objects.filter(title="Faces of Zürich").get().slug == "faces-of-zurich-2"


NUMBER_INPUT = re.compile(r"<input [^>]*>")


def number_inputs(html: str) -> dict[str, dict[str, str]]:
    """name -> attributes of every ``<input type="number">`` of a page."""
    inputs = {}
    for tag in NUMBER_INPUT.findall(html):
        attributes = dict(re.findall(r'([a-z_-]+)="([^"]*)"', tag))
        if attributes.get("type") == "number":
            inputs[attributes["name"]] = attributes
    return inputs


def accepts(name: str, value: float) -> bool:
    try:
        if name.startswith("analysis_"):  # form fields, not columns
            StudyForm().fields[name].clean(value)
        else:
            Study._meta.get_field(name).run_validators(value)
    except ValidationError:
        return False
    return True


def test_number_inputs_offer_exactly_the_range_the_server_accepts(client, owner, staff_client):
    study = owned_study(owner, status="draft")
    pages = {
        "research form": client.get(reverse("research-study-edit", args=[study.slug])),
        "admin form": staff_client.get(reverse("admin:studyapp_study_add")),
    }
    for page, response in pages.items():
        assert response.status_code == 200, page
        inputs = number_inputs(response.content.decode())
        assert inputs["trials_per_participant"]["min"] == "1", page
        assert inputs["target_participants"]["min"] == "1", page
        assert inputs["catch_rate"]["max"] == "0.5", page
        for name, attributes in inputs.items():
            step = 1 if attributes.get("step") != "any" else 0.01
            low, high = float(attributes["min"]), float(attributes["max"])
            assert accepts(name, low), (page, name)
            assert not accepts(name, low - step), (page, name)
            assert accepts(name, high), (page, name)
            assert not accepts(name, high + step), (page, name)
