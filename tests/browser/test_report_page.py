"""The report page in Chromium: results first, no wider than the window at 1,280 and 375 px.

A real report (``write_report`` on a simulated study with long model names) is stored as the
report job stores it and read through the report view. Screenshots go to
tests/browser/artifacts/ (not committed).
"""

import io
import zipfile
from pathlib import Path

import pytest

from analysis.io import read_responses
from analysis.report import ReportMeta, write_report
from analysis.simulate import Design, random_dissimilarity, simulate_responses
from analysis.study_analysis import AnalysisParameters, analyse_study
from studyapp.models import StudyMembership
from tests.browser.conftest import ARTIFACTS
from tests.factories import make_report_artifact, make_study
from tests.unit.analysis.test_recovery import ranked_models

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LONG = "resnet50-imagenet-pretrained-finetuned-on-identities-seed-{k}/layer4.2.conv3.relu"
WIDTHS = {"desktop": (1280, False), "phone": (375, True)}


def report_zip(folder: Path, title: str, dashboard: str) -> bytes:
    truth = random_dissimilarity(12, n_dims=3, random_state=0)
    design = Design(trial_type="triplet", n_participants=8, n_trials=200, repeat_fraction=0.1)
    rows = read_responses(simulate_responses(truth, design, random_state=1))
    models = {LONG.format(k=k): m for k, m in enumerate(ranked_models(truth).values())}
    parameters = AnalysisParameters(n_boot=20, n_permutations=20, n_splits=5)
    analysis = analyse_study(rows.assign(study="browser"), models, parameters=parameters)
    write_report(analysis, folder, ReportMeta(title=title, dashboard_url=dashboard))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def log_in(page, url: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_report_page_opens_with_the_summary_and_fits_the_window(
    browser, live_server, django_user_model, tmp_path
):
    user = django_user_model.objects.create_user("ada", password="correct horse battery")
    study = make_study(slug="face-space", title="Faces in a similarity space")
    StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.OWNER)
    dashboard = f"/research/studies/{study.slug}/"
    make_report_artifact(study, data=report_zip(tmp_path / "report", study.title, dashboard))

    csp_errors: list[str] = []  # the report page runs under its own Content-Security-Policy
    for name, (width, mobile) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=mobile)
        page = context.new_page()
        page.on(
            "console",
            lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        log_in(page, live_server.url)
        page.goto(f"{live_server.url}{dashboard}report/")
        page.wait_for_load_state("load")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}-top.png"))
        document, window = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert window == width
        assert document <= window, (name, document)
        # the wide comparison table scrolls inside its own box instead of widening the page
        box = page.eval_on_selector(
            "#table-model-comparison", "e => [e.scrollWidth, e.clientWidth]"
        )
        assert box[0] > box[1] <= width
        assert page.text_content("h1") == "Similarity report: Faces in a similarity space"
        assert page.eval_on_selector("h2", "e => e.textContent") == "Summary"
        assert csp_errors == []
        context.close()

    # the summary's numbers are the comparison table's (both as printed on the page)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}{dashboard}report/")
    read = "t => [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
    summary = page.eval_on_selector("#table-per-model-and-layer table", read)
    page_rows = page.eval_on_selector("#table-model-comparison table", read)
    heads = page.eval_on_selector_all(
        "#table-model-comparison th", "hs => hs.map(h => h.textContent)"
    )
    col = {h: k for k, h in enumerate(heads)}
    primary = [r for r in page_rows if r[col["method"]] == "spearman"]
    assert len(summary) == len(primary) == 4
    for shown, row in zip(summary, primary, strict=True):
        assert shown[0] == f"{row[col['model']]}/{row[col['layer']]}"
        assert shown[2] == row[col["evaluation"]]
        assert shown[3] == f"[{row[col['ci_low']]}, {row[col['ci_high']]}]"
        assert shown[4] == row[col["mantel_p_fdr"]]
        assert shown[5] == f"{row[col['noise_ceiling_lower']]} to {row[col['noise_ceiling_upper']]}"
    sentences = page.eval_on_selector_all("#summary li", "ls => ls.map(l => l.textContent)")
    assert [s.split(":")[0] for s in sentences] == [r[0] for r in summary]
    # and the page links back to the study's dashboard
    page.click("#dashboard-link")
    page.wait_for_url(f"**{dashboard}")
    assert study.title in page.text_content("body")
    context.close()
