"""Models' classification images from the participants' trials: a simulated eyes "model"
agrees with its own eye relevance map (faithfulness) and a mouth map does not."""

import numpy as np
import pandas as pd

from analysis.bubbles import BubblesDesign, participant_accumulators
from analysis.bubbles.model_answers import model_bubbles
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
