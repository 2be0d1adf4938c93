"""Models' classification images from the participants' trials: a simulated eyes "model"
agrees with its own eye relevance map (faithfulness) and a mouth map does not."""

import numpy as np
import pandas as pd
import pytest

from analysis.bubbles import (
    BubblesDesign,
    ClassificationImageAccumulator,
    bootstrap_agreement,
    bootstrap_agreements,
    map_agreement,
    participant_accumulators,
)
from analysis.bubbles.agreement import _Ranked
from analysis.bubbles.model_answers import model_bubbles, with_skipped
from analysis.bubbles.observers import DiagnosticObserver, disc_weights

DESIGN = BubblesDesign(height=48, width=48, sigma=3.0)
EYES = disc_weights(DESIGN, [(16, 14), (16, 34)], 5)
MOUTH = disc_weights(DESIGN, [(36, 24)], 5)


def answers(observer, n_participants=5, n_trials=300, count=10, seed=0) -> pd.DataFrame:
    """The export's Bubbles rows, answered by `observer` (None: always right)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_participants):
        for _ in range(n_trials):
            trial_seed = int(rng.integers(0, 2**32))
            right = True
            if observer is not None:
                right = bool(rng.random() < observer.p_correct(DESIGN.mask(trial_seed, count)))
            rows.append(
                {
                    "participant": f"p{p}",
                    "trial_type": "bubbles",
                    "role": "main",
                    "item_1": "face0",
                    "correct": right,
                    "bubbles_seed": trial_seed,
                    "bubbles_count": count,
                    "bubbles_sigma": DESIGN.sigma,
                }
            )
    return pd.DataFrame(rows)


def test_a_model_map_agrees_with_its_own_relevance_and_a_perfect_model_has_none():
    eyes_model = participant_accumulators(answers(DiagnosticObserver(EYES, threshold=0.15)), DESIGN)
    perfect = participant_accumulators(answers(None, n_participants=2, n_trials=20), DESIGN)
    found = model_bubbles(
        {"eyes-net": eyes_model, "perfect-net": perfect},
        relevance_maps={"eyes-net": {"all": EYES}, "perfect-net": {"all": MOUTH}},
        n_boot=30,
        random_state=0,
    )
    accuracy = found.accuracy.set_index("model")
    assert accuracy.loc["eyes-net", "trials"] == 1500
    assert 0.55 < accuracy.loc["eyes-net", "accuracy"] < 1
    assert accuracy.loc["perfect-net", "accuracy"] == 1.0
    assert "no map" in accuracy.loc["perfect-net", "note"]
    assert list(found.z_maps) == ["eyes-net"]
    z = found.z_maps["eyes-net"]["all"]
    assert z[16, 14] > 3
    assert z[16, 34] > 3
    rho = found.faithfulness.set_index("statistic").loc["spearman"]
    assert rho["ci_low"] > 0.2
    assert rho["ci_low"] <= rho["estimate"] <= rho["ci_high"]
    assert 0 < rho["ceiling"] <= 1
    mouth = model_bubbles(
        {"eyes-net": eyes_model}, relevance_maps={"eyes-net": {"all": MOUTH}}, n_boot=30
    ).faithfulness.set_index("statistic")
    assert mouth.loc["spearman", "estimate"] < rho["ci_low"]  # an unfaithful relevance map


def test_several_maps_share_the_draws_and_equal_map_agreement():
    """`bootstrap_agreements`' fast route (ranks and top sets computed once per map and
    draw) gives `map_agreement`'s numbers; a map with NaNs takes the general route."""
    people = list(
        participant_accumulators(answers(DiagnosticObserver(EYES, threshold=0.15)), DESIGN)[
            "all"
        ].values()
    )
    holey = MOUTH.copy()
    holey[0, :5] = np.nan
    ties = np.round(EYES + MOUTH)  # many tied values
    others = {"eyes": EYES, "mouth": MOUTH, "holey": holey, "ties": ties}
    found = bootstrap_agreements(people, others, n_boot=5, random_state=1)
    group = ClassificationImageAccumulator.combine(people).image().z
    for name, other in others.items():
        expected = map_agreement(group, other)
        assert found[name]["spearman"]["estimate"] == pytest.approx(expected["spearman"])
        assert found[name]["top_iou"]["estimate"] == expected["top_iou"]
    one = bootstrap_agreement(people, ties, n_boot=5, random_state=1)
    fast = _Ranked(group, 0.1).agreement(_Ranked(ties, 0.1))
    assert fast["spearman"] == pytest.approx(map_agreement(group, ties)["spearman"], abs=1e-12)
    assert fast["top_iou"] == map_agreement(group, ties)["top_iou"]
    assert one["spearman"]["ci_low"] == pytest.approx(found["ties"]["spearman"]["ci_low"])


def test_a_model_that_could_not_answer_gets_a_row_saying_why():
    why = {"identity-net": "trained for 'identity', not 'gender'"}
    alone = with_skipped(None, why)
    assert alone.z_maps == {}
    assert alone.faithfulness.empty
    assert alone.accuracy.to_dict("records") == [
        {
            "model": "identity-net",
            "group": "",
            "trials": 0,
            "accuracy": pytest.approx(np.nan, nan_ok=True),
            "note": why["identity-net"],
        }
    ]
    assert with_skipped(alone, {}) is alone
    both = with_skipped(alone, {"other": "names no layers of interest"})
    assert both.accuracy["model"].tolist() == ["identity-net", "other"]
