"""Cross-model generalisation matrix, baselines, areas under the k-curve, asymmetry."""

import numpy as np
import pytest
import torch

from modelsvc.architectures import SmallCNN
from modelsvc.generalisation import (
    CrossMasking,
    area_under_curve,
    concatenate_cross_masking,
    cross_model_masking,
    summarise_generalisation,
)
from modelsvc.masking import MaskingSettings, evaluate_masking
from modelsvc.relevance import compute_relevance
from modelsvc.spec import ModelSpec
from tests.unit.modelsvc.helpers import randomize

SETTINGS = MaskingSettings(fractions=(0.05, 0.2, 0.5), fill="mean", fill_value=(0.5, 0.4, 0.3))


@pytest.fixture
def two_models():
    models = {}
    for name, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        spec = ModelSpec("small_cnn", 3, input_size=(32, 32), seed=seed)
        models[name] = (randomize(SmallCNN(num_classes=3), seed).eval(), spec)
    return models


def _inputs(models, n=6):
    images = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    keys = [f"img{i}.png" for i in range(n)]
    relevance = {name: compute_relevance(m, s, images) for name, (m, s) in models.items()}
    return (
        images,
        keys,
        {n: r.maps for n, r in relevance.items()},
        {n: r.targets for n, r in relevance.items()},
    )


def test_diagonal_equals_self_masking_and_baselines_are_extra_rows(two_models):
    images, keys, maps, targets = _inputs(two_models)
    cross = cross_model_masking(
        two_models, images, maps, targets, keys, SETTINGS, baselines=("random", "center")
    )
    assert cross.sources == ("a", "b", "random", "center")
    assert cross.models == ("a", "b")
    assert cross.correct.shape == (4, 2, 6, 3)
    summary = summarise_generalisation(cross, SETTINGS.fractions)
    for index, name in enumerate(("a", "b")):
        model, spec = two_models[name]
        own = evaluate_masking(model, spec, images, maps[name], targets[name], keys, SETTINGS)
        np.testing.assert_array_equal(cross.correct[index, index], own.correct)
        np.testing.assert_array_equal(summary.accuracy[index, index], own.correct.mean(0))
    # targets are the predicted classes, so unmasked accuracy is 1 for both models
    np.testing.assert_array_equal(summary.unmasked_accuracy, [1.0, 1.0])


def test_every_cell_equals_masking_that_model_by_that_source_alone(two_models):
    """The shared masked images and single unmasked pass give what one call per cell gives."""
    images, keys, maps, targets = _inputs(two_models)
    cross = cross_model_masking(two_models, images, maps, targets, keys, SETTINGS)
    for s, source in enumerate(("a", "b")):
        for m, (name, (model, spec)) in enumerate(two_models.items()):
            alone = evaluate_masking(
                model, spec, images, maps[source], targets[name], keys, SETTINGS
            )
            np.testing.assert_array_equal(cross.correct[s, m], alone.correct)
            np.testing.assert_array_equal(cross.target_logit[s, m], alone.target_logit)
            np.testing.assert_array_equal(cross.unmasked_correct[m], alone.unmasked_correct)


def test_asymmetry_is_antisymmetric_and_auc_is_the_mean_level(two_models):
    images, keys, maps, targets = _inputs(two_models)
    summary = summarise_generalisation(
        cross_model_masking(two_models, images, maps, targets, keys, SETTINGS), SETTINGS.fractions
    )
    np.testing.assert_array_equal(summary.asymmetry, -summary.asymmetry.transpose(1, 0, 2))
    np.testing.assert_array_equal(np.diagonal(summary.asymmetry_auc), [0.0, 0.0])
    manual = np.trapezoid(summary.accuracy[0, 1], SETTINGS.fractions) / (0.5 - 0.05)
    assert summary.auc[0, 1] == pytest.approx(manual)


def test_area_under_curve_of_constant_is_the_constant():
    assert area_under_curve(np.full((2, 4), 0.7), [0.01, 0.1, 0.3, 0.5]) == pytest.approx(0.7)
    assert area_under_curve(np.array([[0.2]]), [0.3])[0] == 0.2


def test_batches_concatenate_to_the_whole_set(two_models):
    images, keys, maps, targets = _inputs(two_models)

    def part(rows):
        return cross_model_masking(
            two_models,
            images[rows],
            {n: m[rows] for n, m in maps.items()},
            {n: t[rows] for n, t in targets.items()},
            [keys[i] for i in rows],
            SETTINGS,
        )

    whole = part(list(range(6)))
    joined = concatenate_cross_masking([part([0, 1, 2, 3]), part([4, 5])])
    assert isinstance(joined, CrossMasking)
    np.testing.assert_array_equal(joined.correct, whole.correct)
    np.testing.assert_allclose(joined.target_logit, whole.target_logit, rtol=1e-5, atol=1e-6)


def test_models_must_share_the_input_size(two_models):
    images, keys, maps, targets = _inputs(two_models)
    model, spec = two_models["b"]
    two_models["b"] = (model, spec.replace(input_size=(64, 64)))
    with pytest.raises(ValueError, match="model 'b' has \\(64, 64\\)"):
        cross_model_masking(two_models, images, maps, targets, keys, SETTINGS)
