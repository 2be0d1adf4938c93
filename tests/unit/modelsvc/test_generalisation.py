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


def test_models_of_other_input_sizes_share_the_images_mask_space(two_models):
    """A 16 px model beside a 32 px one: its maps are upsampled to the images' 32 px, masks
    are made there, and it sees every masked image downsampled to its own 16 px."""
    images, keys, maps, targets = _inputs(two_models)
    model, spec = two_models["b"]
    small = spec.replace(input_size=(16, 16))
    two_models["b"] = (model, small)
    small_images = torch.nn.functional.interpolate(
        images, size=(16, 16), mode="bilinear", align_corners=False, antialias=True
    )
    own = compute_relevance(model, small, small_images)  # b's maps and targets at 16 px
    maps["b"], targets["b"] = own.maps, own.targets
    cross = cross_model_masking(two_models, images, maps, targets, keys, SETTINGS)
    np.testing.assert_array_equal(cross.unmasked_correct[1], True)  # its own predictions
    upsampled = torch.nn.functional.interpolate(
        torch.as_tensor(own.maps)[:, None], size=(32, 32), mode="bilinear", align_corners=False
    )[:, 0]
    a_model, a_spec = two_models["a"]
    for source, source_maps in ((0, maps["a"]), (1, upsampled)):  # model a at 32 px, as alone
        alone = evaluate_masking(a_model, a_spec, images, source_maps, targets["a"], keys, SETTINGS)
        np.testing.assert_array_equal(cross.correct[source, 0], alone.correct)
    maps["b"] = own.maps[:, :8, :8]
    with pytest.raises(ValueError, match=r"input size \(16, 16\); got maps of size \(8, 8\)"):
        cross_model_masking(two_models, images, maps, targets, keys, SETTINGS)
