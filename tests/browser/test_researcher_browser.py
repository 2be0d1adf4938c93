"""A researcher in a real browser: log in, create a study, run the pipeline, read the report.

Screenshots of the main pages go to tests/browser/artifacts/ (not committed).
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from studyapp.models import Job, Study
from tests.browser.conftest import ARTIFACTS
from tests.compute_fixtures import small_model
from tests.integration.tasks.test_pipeline import simulate_participants

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Quick analysis settings, entered in the form's analysis section (field -> value).
QUICK_ANALYSIS = {
    "#id_analysis_n_boot": "20",
    "#id_analysis_n_permutations": "50",
    "#id_analysis_n_splits": "5",
}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"researcher-{name}.png"), full_page=True)


def download(page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_researcher_runs_a_study_from_the_browser(
    page, live_server, worker, faces, django_user_model, tmp_path
):
    django_user_model.objects.create_user("ada", password="correct horse battery")
    models = [small_model("browser model a", seed=0), small_model("browser model b", seed=1)]

    page.set_viewport_size({"width": 1280, "height": 900})  # the screenshots' width
    page.goto(f"{live_server.url}/research/")
    assert "/accounts/login/" in page.url
    shot(page, "login")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/research/")
    shot(page, "home")

    page.click("text=New study")
    page.fill("#id_title", "Browser study")
    expect(page.locator("#id_slug")).to_have_value("browser-study")  # filled from the title
    page.select_option("#id_stimulus_set", str(faces.pk))
    page.check("input[name=trial_types][value=triplet]")
    page.select_option("#id_face_models", [str(m.pk) for m in models])
    page.fill("#id_trials_per_participant", "40")
    page.fill("#id_practice_trials", "0")
    page.fill("#id_consent_text", "Do you agree?")
    page.fill("#id_instructions", "Pick the odd one out.")
    for method in ("pearson", "rho-a", "tau-a"):
        page.uncheck(f"input[name=analysis_methods][value={method}]")
    for selector, value in QUICK_ANALYSIS.items():
        page.fill(selector, value)
    page.select_option("#id_analysis_choice_matrix", "counts")  # no embedding fit: quick
    shot(page, "new-study")
    page.click("#study-form button[type=submit]")
    page.wait_for_url("**/research/studies/browser-study/")
    study = Study.objects.get(slug="browser-study")
    assert study.memberships.get().user.username == "ada"
    assert study.status == "draft"
    page.click("#open-study")
    page.wait_for_selector("#close-study")

    simulate_participants(study, 5)
    page.reload()
    shot(page, "dashboard-data")
    page.click("#launch-pipeline")
    page.wait_for_selector("[data-job-id]")
    shot(page, "dashboard-running")
    page.wait_for_function(
        "() => { const bars = [...document.querySelectorAll('[data-job-id]')];"
        " return bars.length === 5 && bars.every(b => b.dataset.status === 'succeeded'"
        " && b.getAttribute('aria-valuenow') === '100'); }",
        timeout=300_000,
    )
    assert set(Job.objects.filter(study=study).values_list("status", flat=True)) == {"succeeded"}

    page.wait_for_selector("#results img", timeout=30_000)  # no reload: the panel refreshes
    assert page.is_enabled("#launch-pipeline")
    shot(page, "dashboard-results")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    responses = download(page, "#download-responses", downloads)
    assert responses.read_text().startswith("study,participant,participant_status")
    assert download(page, "#download-pdf", downloads).read_bytes().startswith(b"%PDF")
    assert download(page, "#download-report-zip", downloads).read_bytes().startswith(b"PK")

    page.click("#open-report")
    page.wait_for_load_state()
    shot(page, "report")
    exports = [
        h
        for h in page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        if not h.startswith(("http", "#", "/")) and not h.endswith((".png", ".html"))
    ]
    assert {"results.json", "matrices.npz", "triplets.csv", "report.pdf"} <= set(exports)
    for href in exports:
        saved = download(page, f"a[href='{href}']", downloads)
        assert saved.stat().st_size > 0, href

    page.goto(f"{live_server.url}/research/jobs/")
    shot(page, "jobs")
    page.goto(f"{live_server.url}/research/models/")
    shot(page, "models")
