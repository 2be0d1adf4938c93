"""The study form in the browser: sections, the slug from the title, analysis fields."""

import pytest

from studyapp.models import Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_slug_follows_the_title_until_it_is_edited(page, live_server, faces, django_user_model):
    django_user_model.objects.create_user("ada", password="correct horse battery")
    page.goto(f"{live_server.url}/research/studies/new")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/research/studies/new")
    legends = page.locator("#study-form legend").all_text_contents()
    assert legends == ["Study", "Design", "Texts", "Recruitment", "Analysis"]
    assert page.input_value("#id_analysis_n_boot") == "1000"  # the default, shown

    page.type("#id_title", "Faces of Zürich: pilot #2")
    assert page.input_value("#id_slug") == "faces-of-zurich-pilot-2"
    page.fill("#id_slug", "pilot")
    page.fill("#id_title", "Something else")
    assert page.input_value("#id_slug") == "pilot"  # edited by hand: left alone
    page.fill("#id_slug", "")
    page.type("#id_title", "!")
    assert page.input_value("#id_slug") == "something-else"

    page.select_option("#id_stimulus_set", str(faces.pk))
    page.check("input[name=trial_types][value=triplet]")
    page.fill("#id_consent_text", "Do you agree?")
    page.fill("#id_instructions", "Pick the odd one out.")
    page.fill("#id_analysis_n_permutations", "500")
    page.click("#study-form button[type=submit]")
    page.wait_for_url("**/research/studies/something-else/")
    study = Study.objects.get(slug="something-else")
    assert study.analysis_settings["n_permutations"] == 500
    assert study.analysis_settings["n_boot"] == 1000
