"""The methods text names only the exclusion rules that could apply to the study."""

import dataclasses

import pytest

from analysis import AnalysisParameters, ExclusionRules, analyse_study
from analysis.human.choices import choice_table
from analysis.human.embedding import select_dimensionality
from analysis.io import read_responses
from analysis.report.methods_text import methods_paragraphs
from analysis.simulate import Design, simulate_responses

RULES = ExclusionRules(min_repeat_consistency=0.5)
PARAMS = AnalysisParameters(
    methods=("spearman",), n_boot=20, n_permutations=20, n_splits=5, exclusions=RULES
)
CATCH = "catch-trial accuracy"
REPEAT = "repeat consistency"
CONSTANT = "ratings never varied"


def rules_paragraph(truth, trial_type: str, **design) -> str:
    design = Design(trial_type=trial_type, n_participants=6, n_trials=120, **design)
    rows = read_responses(simulate_responses(truth, design, random_state=3))
    return methods_paragraphs(analyse_study(rows, parameters=PARAMS))[0]


@pytest.mark.parametrize("trial_type", ["triplet", "afc"])
def test_choice_studies_do_not_mention_the_ratings_rule(truth, trial_type):
    text = rules_paragraph(truth, trial_type)
    assert CATCH in text
    assert REPEAT in text
    assert CONSTANT not in text


def test_rating_studies_mention_the_ratings_rule(truth):
    assert CONSTANT in rules_paragraph(truth, "rating")


def test_without_catch_or_repeated_trials_their_rules_are_not_mentioned(truth):
    text = rules_paragraph(truth, "rating", catch_fraction=0.0, repeat_fraction=0.0)
    assert CATCH not in text
    assert REPEAT not in text
    assert CONSTANT in text


def test_an_embedding_with_fits_stopped_by_the_iteration_limit_is_flagged(truth):
    design = Design(trial_type="triplet", n_participants=6, n_trials=120)
    rows = read_responses(simulate_responses(truth, design, random_state=3))
    params = dataclasses.replace(PARAMS, choice_matrix="embedding", embedding_dims=(1, 2))
    result = analyse_study(rows, parameters=params)
    assert result.embedding.unconverged_fits == 0
    assert "Caution" not in methods_paragraphs(result)[1]
    table, ids = choice_table(rows[rows["trial_type"] == "triplet"])[:2]
    stopped = select_dimensionality(table, ids, dims=(1, 2), n_folds=2, max_iter=2)
    text = methods_paragraphs(dataclasses.replace(result, embedding=stopped))[1]
    assert "Caution: 5 of its 5 fits (folds and final) stopped before the optimiser" in text
