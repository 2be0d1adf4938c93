"""The methods text on the platform's screening of participants."""

import pytest

from analysis.io import read_responses
from analysis.report import write_report
from analysis.report.screening_text import ScreeningRules, screening_paragraph
from analysis.simulate import Design, simulate_responses
from analysis.study_analysis import AnalysisParameters, analyse_study
from tests.unit.analysis.test_recovery import ranked_models

RULES = ScreeningRules(
    min_width=1000,
    min_height=600,
    desktop_only=True,
    questions=2,
    attempts=3,
    screened_out={"viewport": 4, "comprehension": 1},
)


def test_the_paragraph_names_every_requirement_and_the_counts():
    assert screening_paragraph(RULES) == (
        "Before the first trial, participants were screened on the platform; they needed "
        "a browser window of at least 1000 x 600 CSS pixels; a desktop or laptop computer "
        "(phones and tablets refused); all 2 comprehension questions on the instructions "
        "answered correctly within 3 attempts. 5 sessions were ended by the screening "
        "(window too small: 4, not a desktop or laptop: 0, comprehension check failed: 1) "
        "without a completion code; they gave no responses and did not count towards the "
        "target number of participants."
    )


def test_a_single_requirement_is_stated_alone():
    text = screening_paragraph(ScreeningRules(questions=1, attempts=1))
    assert "needed all 1 comprehension questions on the instructions answered correctly " in text
    assert "within 1 attempt." in text
    assert "window" not in text.split("(")[0]
    high = screening_paragraph(ScreeningRules(min_height=700, screened_out={"viewport": 1}))
    assert "needed a browser window at least 700 CSS pixels high. 1 session was ended" in high


@pytest.mark.parametrize("rules", [None, ScreeningRules(), ScreeningRules(attempts=3)])
def test_no_screening_no_paragraph(rules):
    assert screening_paragraph(rules) is None


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError, match=r"'screened_out' parameter .* got \['timeout'\]"):
        ScreeningRules(screened_out={"timeout": 1})


def test_the_report_methods_mention_the_screening(truth, tmp_path):
    design = Design(trial_type="triplet", n_participants=4, n_trials=60, repeat_fraction=0.1)
    params = AnalysisParameters(n_boot=10, n_permutations=10, n_splits=5, methods=("spearman",))
    analysis = analyse_study(
        read_responses(simulate_responses(truth, design, random_state=3)),
        ranked_models(truth),
        parameters=params,
    )
    with_rules = write_report(analysis, tmp_path / "screened", screening=RULES).html.read_text()
    assert "a browser window of at least 1000 x 600 CSS pixels" in with_rules
    assert "5 sessions were ended by the screening" in with_rules
    plain = write_report(analysis, tmp_path / "plain").html.read_text()
    assert "screened on the platform" not in plain
