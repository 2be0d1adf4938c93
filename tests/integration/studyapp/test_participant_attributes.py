"""Participant attributes: the questionnaire (spec, page, storage), Prolific's attached export,
the attributes CSV, and erasure with the participant."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from studyapp.models import AuditEvent, ParticipantAttribute, StudyMembership
from studyapp.pseudonyms import pseudonymise
from studyapp.questionnaire import QuestionnaireError, parse_spec, spec_text
from studyapp.services.attributes import questionnaire_submit
from studyapp.services.participants import participant_data_delete
from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db
SPEC = "age_band required\ncountry\nhandedness: Which hand do you write with?\ntext hobbies"


def test_the_spec_lines_round_trip_and_bad_lines_are_named():
    questions = parse_spec(SPEC)
    assert [(q["key"], q["kind"], q["required"]) for q in questions] == [
        ("age_band", "age_band", True),
        ("country", "country", False),
        ("handedness", "handedness", False),
        ("hobbies", "text", False),
    ]
    assert questions[2]["label"] == "Which hand do you write with?"
    assert parse_spec(spec_text(questions)) == questions
    for bad, words in [
        ("shoe_size", "the kind must be one of"),
        (": Your age?", "the kind must be one of"),
        ("gender\ngender required", "appear more than once"),
        ("gender mandatory", "only 'required' or 'optional'"),
        ("text Bad-Name", "a text question's name"),
    ]:
        with pytest.raises(QuestionnaireError, match=words):
            parse_spec(bad)


def test_the_study_form_reads_the_spec_and_reports_a_bad_line(client, django_user_model):
    study = make_study()
    owner = django_user_model.objects.create_user("q-owner", password="pw")
    StudyMembership.objects.create(study=study, user=owner, role="owner")
    client.force_login(owner)
    url = reverse("research-study-edit", args=[study.slug])
    form = client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "face_models"}
    data["stimulus_set"] = study.stimulus_set.pk
    data["timing"] = "{}"
    bad = client.post(url, {**data, "questionnaire": "gender\nshoe_size required"})
    assert bad.status_code == 200
    assert "Line 2 ('shoe_size required')" in bad.context["form"].errors["questionnaire"][0]
    assert client.post(url, {**data, "questionnaire": SPEC}).status_code == 302
    study.refresh_from_db()
    assert study.questionnaire == parse_spec(SPEC)
    labels = client.post(url, {**data, "questionnaire": SPEC, "analysis_stimulus_groups": "hair"})
    error = labels.context["form"].errors["analysis_stimulus_groups"][0]
    assert "Names labels the stimulus set lacks: ['hair']" in error
    grouped = client.post(
        url, {**data, "questionnaire": SPEC, "analysis_stimulus_groups": "gender"}
    )
    assert grouped.status_code == 302
    study.refresh_from_db()
    assert study.analysis_settings["stimulus_groups"] == ["gender"]


def join(client, study, pid: str):
    start = client.get(reverse("study-start", args=[study.slug]), {"PROLIFIC_PID": pid})
    assert start.status_code == 200
    return client.post(
        reverse("study-consent", args=[study.slug]), {"PROLIFIC_PID": pid, "decision": "agree"}
    )


def test_the_questionnaire_comes_after_consent_once_and_enforces_required_answers(client):
    study = make_study(questionnaire=parse_spec(SPEC))
    runner = join(client, study, "quest-1")["Location"]
    questionnaire = client.get(runner)
    assert questionnaire.status_code == 302
    assert questionnaire["Location"].endswith("/questionnaire")
    page = client.get(questionnaire["Location"])
    assert page.status_code == 200
    assert b"Which hand do you write with?" in page.content
    missing = client.post(questionnaire["Location"], {"country": "DE"})
    assert missing.status_code == 400
    assert "This field is required." in str(missing.context["form"].errors["age_band"])
    assert ParticipantAttribute.objects.count() == 0
    unknown = client.post(questionnaire["Location"], {"age_band": "200+"})
    assert unknown.status_code == 400
    done = client.post(
        questionnaire["Location"], {"age_band": "25-34", "country": "DE", "hobbies": " chess "}
    )
    assert done.status_code == 302
    assert done["Location"] == runner
    stored = dict(ParticipantAttribute.objects.values_list("key", "value"))
    assert stored == {"age_band": "25-34", "country": "DE", "hobbies": "chess"}
    assert set(ParticipantAttribute.objects.values_list("source", flat=True)) == {"questionnaire"}
    # answered once: the runner shows, and a second submission changes nothing
    assert client.get(runner).status_code == 200
    again = client.post(questionnaire["Location"], {"age_band": "65+"})
    assert again.status_code == 302
    assert ParticipantAttribute.objects.get(key="age_band").value == "25-34"


def exporter(client, django_user_model, study, role="viewer"):
    user = django_user_model.objects.create_user(f"{role}-{study.slug}", password="pw")
    StudyMembership.objects.create(study=study, user=user, role=role)
    client.force_login(user)
    return user


def test_the_attributes_csv_is_a_checked_audited_export(client, django_user_model):
    study = make_study(questionnaire=parse_spec(SPEC))
    first, second = start_participant(study, "exp-1"), start_participant(study, "exp-2")
    questionnaire_submit(participant=first, answers={"age_band": "18-24", "hobbies": "=1+2"})
    questionnaire_submit(participant=second, answers={"age_band": "65+"})
    other = start_participant(make_study(), "exp-3")
    questionnaire_submit(participant=other, answers={"age_band": "35-44"})
    url = reverse("research-attributes-csv", args=[study.slug])
    exporter(client, django_user_model, make_study())  # a role on another study only
    assert client.get(url).status_code == 404
    exporter(client, django_user_model, study)
    response = client.get(url)
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="{study.slug}-participant-attributes.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["participant"], r["attribute"], r["value"]) for r in rows] == [
        (first.pseudonym, "age_band", "18-24"),
        (first.pseudonym, "hobbies", "'=1+2"),  # a spreadsheet formula, neutralised
        (second.pseudonym, "age_band", "65+"),
    ]
    assert {r["source"] for r in rows} == {"questionnaire"}
    assert {r["participant_status"] for r in rows} == {"started"}
    assert AuditEvent.objects.filter(
        action="export", study=study, detail__export="participant-attributes.csv"
    ).exists()


def test_attributes_are_erased_with_the_participant():
    study = make_study(questionnaire=parse_spec(SPEC))
    erased, kept = start_participant(study, "erase-attr"), start_participant(study, "keep-attr")
    questionnaire_submit(participant=erased, answers={"age_band": "18-24", "country": "FR"})
    questionnaire_submit(participant=kept, answers={"age_band": "45-54"})
    report = participant_data_delete(pseudonym=pseudonymise("erase-attr"))
    assert report[study.slug]["attributes"] == 2
    assert list(ParticipantAttribute.objects.values_list("participant", flat=True)) == [kept.pk]
    event = AuditEvent.objects.get(action="data_deletion")
    assert event.detail["attributes"] == 2
    assert "FR" not in str(event.detail)


PROLIFIC_HEADER = "Submission id,Participant id,Status,Age,Sex,Country of residence\n"


def attach(client, study, content: bytes, name="prolific_export.csv"):
    url = reverse("research-attributes-attach", args=[study.slug])
    return client.post(url, {"export": SimpleUploadedFile(name, content, "text/csv")})


def test_a_prolific_export_is_matched_by_hashed_id_and_unmatched_rows_are_counted(
    client, django_user_model
):
    study = make_study()
    one, two = start_participant(study, "PROLIFIC_A"), start_participant(study, "PROLIFIC_B")
    questionnaire_submit(participant=one, answers={"handedness": "left"})
    exporter(client, django_user_model, study, role="collaborator")
    export = (
        PROLIFIC_HEADER
        + "s1,PROLIFIC_A,APPROVED,34,Female,United Kingdom\n"
        + "s2,PROLIFIC_B,APPROVED,51,Male,\n"
        + "s3,PROLIFIC_NOT_HERE,RETURNED,22,Female,Germany\n"
    ).encode("utf-8-sig")
    response = attach(client, study, export)
    assert response.status_code == 302
    message = str(next(iter(response.wsgi_request._messages)))
    assert "to 2 participants; 1 of 3 rows matched no participant" in message
    values = {
        (a.participant_id, a.key): (a.value, a.source) for a in ParticipantAttribute.objects.all()
    }
    assert values == {
        (one.pk, "handedness"): ("left", "questionnaire"),
        (one.pk, "Status"): ("APPROVED", "prolific"),
        (one.pk, "Age"): ("34", "prolific"),
        (one.pk, "Sex"): ("Female", "prolific"),
        (one.pk, "Country of residence"): ("United Kingdom", "prolific"),
        (two.pk, "Status"): ("APPROVED", "prolific"),
        (two.pk, "Age"): ("51", "prolific"),
        (two.pk, "Sex"): ("Male", "prolific"),
    }
    # neither the raw Prolific ids nor the submission ids are stored anywhere
    stored = str(list(ParticipantAttribute.objects.values_list("key", "value")))
    assert "PROLIFIC_A" not in stored
    assert "s1" not in stored
    event = AuditEvent.objects.get(action="attach")
    assert event.detail["matched"] == 2
    assert event.detail["rows"] == 3
    # attaching a newer export replaces the values it has
    attach(client, study, (PROLIFIC_HEADER + "s1,PROLIFIC_A,APPROVED,35,Female,Ireland\n").encode())
    assert ParticipantAttribute.objects.get(participant=one, key="Age").value == "35"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\xff\xfeA\x00g\x00e\x00", "not UTF-8 text"),
        (b"Age,Sex\n34,Female\n", "exactly one participant id column"),
        (b"Participant id,Age\nPROLIFIC_A,3\x004\n", "a NUL character"),
        (PROLIFIC_HEADER.encode() + b"s1,PROLIFIC_A,APPROVED,34\n", "Row 2 has 4 cells"),
        (PROLIFIC_HEADER.encode() + b'"s1,PROLIFIC_A', "not a readable CSV"),
        (
            PROLIFIC_HEADER.encode() + b"s1,PROLIFIC_A,A,1,F,X\ns2,PROLIFIC_A,A,2,M,Y\n",
            "Row 3 repeats a participant id",
        ),
        (b"Participant id,Age,Age\nPROLIFIC_A,1,2\n", "its own non-empty name"),
    ],
)
def test_a_malformed_export_is_refused_with_a_message_and_nothing_written(
    client, django_user_model, content, message
):
    study = make_study()
    start_participant(study, "PROLIFIC_A")
    exporter(client, django_user_model, study, role="collaborator")
    response = attach(client, study, content)
    assert response.status_code == 400
    assert message in response.context["error"]
    assert ParticipantAttribute.objects.count() == 0
    assert not AuditEvent.objects.filter(action="attach").exists()


def test_an_oversized_export_is_refused_before_it_is_read(client, django_user_model, settings):
    study = make_study()
    start_participant(study, "PROLIFIC_A")
    exporter(client, django_user_model, study, role="collaborator")
    row = "s1,PROLIFIC_A,APPROVED,34,Female,United Kingdom\n"
    settings.ATTRIBUTES_MAX_BYTES = 200
    # over the limit but within the multipart slack: the file's own size is checked
    small = attach(client, study, (PROLIFIC_HEADER + row * 10).encode())
    assert small.status_code == 400
    assert "the limit is 200" in small.context["error"]
    # far over: refused from the declared Content-Length, before the body is parsed
    large = attach(client, study, (PROLIFIC_HEADER + row * 3000).encode())
    assert large.status_code == 413
    assert not hasattr(large.wsgi_request, "_files")  # Django never parsed the upload
    assert ParticipantAttribute.objects.count() == 0


def test_a_viewer_cannot_attach_and_the_dashboard_offers_the_form(client, django_user_model):
    study = make_study(questionnaire=parse_spec("gender required"))
    exporter(client, django_user_model, study)
    assert attach(client, study, PROLIFIC_HEADER.encode()).status_code == 403
    page = client.get(reverse("research-study", args=[study.slug]))
    assert b'id="download-attributes"' in page.content
    assert b'id="attach-form"' not in page.content  # viewers only download
    assert b"gender*" in page.content


def test_attaching_needs_the_csrf_token(django_user_model):
    study = make_study()
    exporter(Client(), django_user_model, study, role="collaborator")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.get(username=f"collaborator-{study.slug}"))
    body = (PROLIFIC_HEADER + "s1,PROLIFIC_A,APPROVED,34,Female,X\n").encode()
    assert attach(strict, study, body).status_code == 403
