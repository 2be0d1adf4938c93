"""The Content-Security-Policy in a real browser: third-party images in a study's Markdown are
never fetched, and the consent page and trial runner work under the policy."""

import pytest

from studyapp.models import Participant
from tests.browser.runner_driver import RunnerDriver
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TRACKER = "https://tracker.example.net/pixel.png"


def test_markdown_cannot_load_third_party_images_and_the_study_still_runs(browser, live_server):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    fetched, refused, errors = [], [], []
    page.route(
        "https://tracker.example.net/**",
        lambda route: (fetched.append(route.request.url), route.fulfill(body=b"")),
    )
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        study = make_study(
            consent_text=f"Please read. ![tracking pixel]({TRACKER})",
            instructions=f"Go. ![another]({TRACKER}?i)",
            trials_per_participant=4,
            break_every=0,
        )
        page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=csp")
        assert page.locator(f'img[src="{TRACKER}"]').count() == 1  # the sanitiser keeps it
        page.click("#consent-agree")
        page.wait_for_url("**/p/*/")
        assert RunnerDriver(page).run() == "complete"
        assert Participant.objects.get(study=study).status == "completed"
        assert fetched == []
        assert any(TRACKER in text for text in refused), refused
        assert all(TRACKER in text for text in refused), refused  # nothing of ours is refused
        assert errors == []
    finally:
        context.close()
