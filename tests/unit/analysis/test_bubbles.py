"""Bubbles: masks, staircase, classification images and their random-field tests."""

import numpy as np
import pytest
from scipy import ndimage

from analysis.bubbles import (
    BubblesDesign,
    ClassificationImageAccumulator,
    WeightedUpDown,
    bootstrap_agreement,
    bubble_centres,
    cluster_test,
    map_agreement,
    pixel_test,
    split_half_reliability,
)
from analysis.bubbles.observers import DiagnosticObserver, disc_weights, simulate_observer

DESIGN = BubblesDesign(height=48, width=48, sigma=3.0)
EYES = [(16, 14), (16, 34)]


def test_positions_follow_mulberry32_as_the_browser_draws_it():
    # the first draws of mulberry32 for these seeds, printed by the canonical JavaScript
    # (Math.imul version) under Node.js 20
    assert bubble_centres(0, 1, 10**6, 10**9).tolist() == [[266429, 329745]]
    assert bubble_centres(4294967295, 1, 10**6, 10**9).tolist() == [[896422, 189478256]]


def test_mask_is_the_clipped_sum_of_gaussians_at_the_centres():
    design = BubblesDesign(height=20, width=30, sigma=2.0)
    centres = bubble_centres(7, 5, 20, 30)
    rows, columns = np.mgrid[:20, :30]
    expected = np.zeros((20, 30))
    for row, column in centres:
        squared = (rows - row) ** 2 + (columns - column) ** 2
        within = (np.abs(rows - row) <= design.radius) & (np.abs(columns - column) <= design.radius)
        expected += np.where(within, np.exp(-squared / (2 * design.sigma**2)), 0)
    np.testing.assert_allclose(design.mask(7, 5), np.minimum(expected, 1), atol=1e-6)
    assert design.mask(7, 0).max() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"height": 0, "width": 5, "sigma": 1.0}, "'height'"),
        ({"height": 5, "width": 5, "sigma": 0.1}, "'sigma'"),
        ({"height": 5, "width": 5, "sigma": 9.0}, "'sigma'"),
    ],
)
def test_bad_designs_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BubblesDesign(**kwargs)


@pytest.mark.parametrize("target", [0.75, 0.6])
def test_staircase_holds_accuracy_near_its_target(target):
    observer = DiagnosticObserver(disc_weights(DESIGN, EYES, 5), threshold=0.15)
    accuracies = []
    for seed in range(4):
        staircase = WeightedUpDown(start=40, target=target, step=0.08, maximum=300)
        trials = simulate_observer(DESIGN, observer, 400, staircase=staircase, random_state=seed)
        accuracies.append(trials["p_correct"].iloc[100:].mean())  # after convergence
    assert abs(np.mean(accuracies) - target) < 0.05, accuracies


def test_staircase_stays_within_its_bounds():
    staircase = WeightedUpDown(start=5, minimum=2, maximum=8)
    assert [staircase.update(False) for _ in range(40)][-1] == 8
    assert [staircase.update(True) for _ in range(200)][-1] == 2


def _participants(observer, n_participants, n_trials, seed, adaptive=True):
    """Accumulators of simulated participants, with a staircase or 40 apertures throughout."""
    accumulators = []
    for participant in range(n_participants):
        staircase = WeightedUpDown(start=40, step=0.08, maximum=300) if adaptive else None
        trials = simulate_observer(
            DESIGN, observer, n_trials, staircase=staircase, random_state=seed * 1000 + participant
        )
        accumulators.append(
            ClassificationImageAccumulator(DESIGN).add_trials(
                trials["seed"], trials["count"], trials["correct"]
            )
        )
    return accumulators


def test_an_eyes_observer_gives_significant_pixels_on_the_eyes_only():
    weights = disc_weights(DESIGN, EYES, 5)
    participants = _participants(DiagnosticObserver(weights, threshold=0.15), 6, 250, 1)
    image = sum(participants[1:], participants[0]).image()
    # the map is the eyes seen through one aperture: nothing farther than 3 sigma may pass
    near_eyes = ndimage.binary_dilation(weights > 0, iterations=DESIGN.radius)
    for result in (pixel_test(image.z, image.fwhm), cluster_test(image.z, image.fwhm)):
        assert result.significant[tuple(np.array(EYES).T)].all()  # both eyes
        assert not (result.significant & ~near_eyes).any()
        assert result.significant.sum() < near_eyes.sum()


def test_a_guessing_observer_gives_no_significant_pixels():
    hits = 0
    for seed in range(10):
        group = ClassificationImageAccumulator(DESIGN)
        for accumulator in _participants(DiagnosticObserver(None), 3, 200, seed, adaptive=False):
            group = group + accumulator
        image = group.image()
        hits += pixel_test(image.z, image.fwhm).significant.any()
        hits += cluster_test(image.z, image.fwhm).significant.any()
    assert hits <= 2  # family-wise 5 % for each of 20 tests: 1 expected


def test_random_field_thresholds_hold_the_family_wise_error_on_smooth_noise():
    # smooth Gaussian fields of known FWHM: the pixel test's threshold is exceeded anywhere in
    # about alpha of them, the cluster test's critical size in about alpha of them
    rng = np.random.default_rng(0)
    sigma = 3.0
    fwhm = 2 * np.sqrt(2 * np.log(2)) * sigma
    pixel_hits = cluster_hits = 0
    n_fields = 400
    for _ in range(n_fields):
        field = ndimage.gaussian_filter(rng.standard_normal((96, 96)), sigma, mode="wrap")
        field /= field.std()
        pixel_hits += pixel_test(field, fwhm).significant.any()
        cluster_hits += cluster_test(field, fwhm).significant.any()
    assert 0.02 <= pixel_hits / n_fields <= 0.09, pixel_hits
    assert 0.01 <= cluster_hits / n_fields <= 0.10, cluster_hits


def test_split_half_reliability_is_high_for_a_consistent_group_and_near_zero_for_guessers():
    weights = disc_weights(DESIGN, EYES, 5)
    consistent = split_half_reliability(
        _participants(DiagnosticObserver(weights, threshold=0.15), 8, 200, 2),
        n_splits=20,
        random_state=0,
    )
    assert consistent["reliability"] > 0.5
    assert consistent["correlations"].shape == (20,)
    # two halves of guessers share nothing: zero on average over groups (one smooth 48 px map
    # has few independent regions, so a single group's value varies by about 0.15)
    guessing = [
        split_half_reliability(
            _participants(DiagnosticObserver(None), 6, 150, seed, adaptive=False),
            n_splits=10,
            random_state=0,
        )["split_half"]
        for seed in range(10, 16)
    ]
    assert abs(np.mean(guessing)) < 0.12, guessing


def _columns(trials):
    return trials["seed"], trials["count"], trials["correct"]


def test_the_image_is_the_per_pixel_regression_and_accumulators_add_up():
    import statsmodels.api as sm

    observer = DiagnosticObserver(disc_weights(DESIGN, EYES, 5), threshold=0.15)
    trials = simulate_observer(
        DESIGN, observer, 120, staircase=WeightedUpDown(start=40, step=0.08), random_state=4
    )
    pooled = ClassificationImageAccumulator(DESIGN).add_trials(*_columns(trials))
    first = ClassificationImageAccumulator(DESIGN).add_trials(*_columns(trials.iloc[:50]))
    second = ClassificationImageAccumulator(DESIGN).add_trials(*_columns(trials.iloc[50:]))
    np.testing.assert_allclose((first + second).image().z, pooled.image().z, equal_nan=True)

    masks = np.stack(
        [DESIGN.mask(int(s), int(c)) for s, c in zip(trials["seed"], trials["count"], strict=True)]
    )
    regressors = np.column_stack(
        [np.ones(len(trials)), trials["correct"].astype(float), masks.mean(axis=(1, 2))]
    )
    image = pooled.image()
    for row, column in [(16, 14), (30, 30), (5, 40)]:
        fit = sm.OLS(masks[:, row, column], regressors).fit()
        assert image.difference[row, column] == pytest.approx(fit.params[1], rel=1e-6, abs=1e-9)
        assert image.z[row, column] == pytest.approx(fit.tvalues[1], rel=1e-6)


def test_with_constant_overall_visibility_the_image_is_the_difference_of_means():
    rng = np.random.default_rng(5)
    base = rng.random((6, 7))
    masks = [rng.permutation(base.ravel()).reshape(6, 7) for _ in range(40)]  # equal means
    correct = np.arange(40) % 3 == 0
    accumulator = ClassificationImageAccumulator(BubblesDesign(height=6, width=7, sigma=1.0))
    for mask, answer in zip(masks, correct, strict=True):
        accumulator.add_mask(mask, answer)
    stacked = np.stack(masks)
    expected = stacked[correct].mean(0) - stacked[~correct].mean(0)
    np.testing.assert_allclose(accumulator.image().difference, expected, atol=1e-9)


def test_an_image_needs_both_outcomes():
    accumulator = ClassificationImageAccumulator(DESIGN)
    accumulator.add_trials([1], [10], [True])
    with pytest.raises(ValueError, match="1 correct and 0 incorrect"):
        accumulator.image()


def test_map_agreement_by_hand():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, np.nan]])
    b = np.array([[2.0, 1.0, 3.0], [5.0, 4.0, 0.0]])
    result = map_agreement(a, b, top_fraction=0.4)  # 5 finite pixels -> top 2
    assert result["spearman"] == pytest.approx(0.8)  # ranks 1 2 3 4 5 vs 2 1 3 5 4
    assert result["top_iou"] == pytest.approx(1.0)  # {4, 5} in both (pixel order 3, 4)
    tied = map_agreement(np.array([[0.0, 0.0], [1.0, 1.0]]), np.eye(2), top_fraction=0.25)
    assert tied["top_iou"] == 0.0  # a's top 1: (1, 0); b's: (0, 0) (ties by pixel index)
    with pytest.raises(ValueError, match="'b'"):
        map_agreement(a, b[:, :2])


def test_bootstrap_agreement_brackets_the_estimate_and_reports_the_ceiling():
    weights = disc_weights(DESIGN, EYES, 5)
    participants = _participants(DiagnosticObserver(weights, threshold=0.15), 6, 200, 7)
    truth = ndimage.gaussian_filter(weights, DESIGN.sigma)
    result = bootstrap_agreement(participants, truth, n_boot=50, random_state=0)
    for name in ("spearman", "top_iou"):
        assert result[name]["ci_low"] <= result[name]["estimate"] <= result[name]["ci_high"]
    assert result["spearman"]["estimate"] > 0.3
    assert 0 < result["ceiling"] <= 1
    unrelated = bootstrap_agreement(
        participants, np.random.default_rng(1).random((48, 48)), n_boot=50, random_state=0
    )
    assert unrelated["spearman"]["ci_low"] < 0.1 < result["spearman"]["ci_low"]
