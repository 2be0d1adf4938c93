"""The questionnaire in a real browser: after consent, a required answer is enforced, then the
trial runner starts and the answers are stored."""

import pytest

from studyapp.models import Participant
from studyapp.questionnaire import parse_spec
from tests.browser.runner_driver import RunnerDriver
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_questionnaire_enforces_its_required_field_then_the_runner_starts(page, live_server):
    study = make_study(
        questionnaire=parse_spec("age_band required\ncountry\ntext remarks: Any remarks?"),
        trials_per_participant=4,
        break_every=0,
        practice_trials=0,
        repeat_rate=0,
        catch_rate=0,
    )
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=quest-browser")
    page.click("#consent-agree")
    page.wait_for_url("**/p/*/questionnaire")
    assert page.inner_text("label[for=id_age_band]") == "Your age *"
    page.select_option("#id_country", "NL")
    page.click("#questionnaire-submit")
    # the server refuses the missing required answer and keeps what was chosen
    page.wait_for_selector("[data-field=age_band] .error")
    assert page.url.endswith("/questionnaire")
    assert page.input_value("#id_country") == "NL"
    participant = Participant.objects.get(study=study)
    assert participant.questionnaire_at is None
    assert not participant.attributes.exists()

    page.select_option("#id_age_band", "35-44")
    page.click("#questionnaire-submit")
    page.wait_for_url("**/p/*/")
    assert RunnerDriver(page).run() == "complete"
    participant.refresh_from_db()
    assert participant.status == "completed"
    assert dict(participant.attributes.values_list("key", "value")) == {
        "age_band": "35-44",
        "country": "NL",
    }
    # a reload of the runner does not ask again
    page.goto(f"{live_server.url}/p/{participant.token}/")
    assert page.url.endswith(f"/p/{participant.token}/")
