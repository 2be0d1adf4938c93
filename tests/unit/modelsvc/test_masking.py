"""Relevance-based masking: exact fractions, tie-breaking, fills, evaluation."""

import numpy as np
import pytest
import torch

from modelsvc.architectures import SmallCNN
from modelsvc.images import load_batch, read_metadata
from modelsvc.masking import (
    MaskingSettings,
    center_maps,
    dataset_mean,
    evaluate_masking,
    fill_images,
    image_channel_means,
    mask_images,
    mean_fill_value,
    random_maps,
    selected_count,
    top_fraction_masks,
)
from modelsvc.spec import ModelSpec
from tests.unit.modelsvc.helpers import RunsOutOfMemoryAbove

FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


@pytest.mark.parametrize("size", [(8, 8), (17, 23), (64, 64)])
def test_masks_select_exactly_the_rounded_fraction_of_pixels(size):
    maps = torch.randn(3, *size, generator=torch.Generator().manual_seed(0))
    masks = top_fraction_masks(maps, FRACTIONS)
    for k, fraction in enumerate(FRACTIONS):
        expected = int(np.floor(fraction * size[0] * size[1] + 0.5))
        assert selected_count(fraction, size) == expected
        assert masks[k].flatten(1).sum(1).tolist() == [expected] * 3


def test_masks_hold_the_most_relevant_pixels_and_ties_go_by_pixel_index():
    maps = torch.tensor([[[0.0, 5.0, 1.0], [5.0, 2.0, 2.0]]])
    masks = top_fraction_masks(maps, [2 / 6, 3 / 6, 5 / 6])
    assert masks[0, 0].tolist() == [[False, True, False], [True, False, False]]
    assert masks[1, 0].tolist() == [[False, True, False], [True, True, False]]  # 2.0 at (1,1)
    assert masks[2, 0].tolist() == [[False, True, True], [True, True, True]]
    flat = top_fraction_masks(torch.zeros(1, 2, 3), [0.5])[0, 0]
    assert flat.tolist() == [[True, True, True], [False, False, False]]


def test_keep_and_remove_are_complements():
    images = torch.rand(2, 3, 6, 6)
    fill = torch.zeros_like(images)
    masks = top_fraction_masks(torch.rand(2, 6, 6), [0.3])[0]
    kept = mask_images(images, masks, fill, "keep")
    removed = mask_images(images, masks, fill, "remove")
    torch.testing.assert_close(kept + removed, images, rtol=0, atol=0)
    assert torch.all(kept[0][:, ~masks[0]] == 0)
    assert torch.equal(kept[0][:, masks[0]], images[0][:, masks[0]])


def test_fills():
    images = torch.rand(2, 3, 16, 16)
    keys = ["a.png", "b.png"]
    mean = fill_images(images, keys, MaskingSettings(fill="mean", fill_value=(0.1, 0.2, 0.3)))
    assert mean[1, :, 5, 5].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert torch.all(fill_images(images, keys, MaskingSettings(fill="zeros")) == 0)
    noise = fill_images(images, keys, MaskingSettings(fill="noise", seed=3))
    alone = fill_images(images[1:], keys[1:], MaskingSettings(fill="noise", seed=3))
    assert torch.equal(noise[1], alone[0])  # per-image stream, independent of the batch
    assert not torch.equal(noise[0], noise[1])
    assert noise.min() >= 0
    assert noise.max() < 1
    blurred = fill_images(images, keys, MaskingSettings(fill="blur", blur_sigma=2.0))
    assert blurred.std() < images.std()  # smoother
    torch.testing.assert_close(blurred.mean(), images.mean(), atol=0.02, rtol=0)


def test_random_and_center_baseline_maps():
    first = random_maps(["x", "y"], (5, 5), seed=1)
    assert torch.equal(first[1], random_maps(["y"], (5, 5), seed=1)[0])
    assert not torch.equal(first, random_maps(["x", "y"], (5, 5), seed=2))
    center = top_fraction_masks(center_maps(1, (5, 5)), [1 / 25])[0, 0]
    assert center[2, 2]
    assert center.sum() == 1


def test_dataset_mean_does_not_depend_on_batch_order():
    images = torch.rand(9, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    means = image_channel_means(images)
    assert dataset_mean(means) == dataset_mean(means[::-1])
    np.testing.assert_allclose(dataset_mean(means), images.double().mean((0, 2, 3)).numpy())


def test_keeping_everything_reproduces_the_unmasked_prediction():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).eval()
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32))
    images = torch.rand(4, 3, 32, 32)
    result = evaluate_masking(
        model,
        spec,
        images,
        torch.rand(4, 32, 32),
        np.array([0, 1, 2, 0]),
        ["a", "b", "c", "d"],
        MaskingSettings(fractions=(0.1, 1.0), fill="zeros"),
    )
    assert result.correct.shape == (4, 2)
    assert result.target_logit.dtype == np.float32
    np.testing.assert_array_equal(result.correct[:, 1], result.unmasked_correct)
    np.testing.assert_array_equal(result.target_logit[:, 1], result.unmasked_logit)
    assert not np.array_equal(result.target_logit[:, 0], result.unmasked_logit)


def test_an_out_of_memory_halves_the_batch_and_gives_the_same_results():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=3).eval()
    spec = ModelSpec("small_cnn", 3, input_size=(32, 32))
    args = (
        torch.rand(6, 3, 32, 32),
        torch.rand(6, 32, 32),
        np.array([0, 1, 2, 0, 1, 2]),
        list("abcdef"),
        MaskingSettings(fractions=(0.1, 0.5), fill="zeros"),
    )
    whole = evaluate_masking(model, spec, *args)
    fragile = RunsOutOfMemoryAbove(model, limit=2)
    halved = evaluate_masking(fragile, spec, *args)
    assert fragile.sizes[:3] == [6, 3, 1]  # 6 and 3 fail, 3 // 2 = 1 fits
    np.testing.assert_array_equal(halved.correct, whole.correct)
    np.testing.assert_allclose(halved.target_logit, whole.target_logit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": (0.2, 0.1)}, "strictly increasing"),
        ({"fractions": (0.0, 0.1)}, r"'fractions' parameter of MaskingSettings must be a number"),
        ({"fill": "mean"}, "'fill_value' parameter"),
        ({"fill": "zeros", "fill_value": (0.5, 0.5, 0.5)}, "'fill_value' parameter"),
        ({"fill": "zeros", "blur_sigma": 2.0}, "'blur_sigma' parameter"),
        ({"fill": "paint"}, "'fill' parameter of MaskingSettings"),
        ({"fill": "zeros", "mode": "both"}, "'mode' parameter of MaskingSettings"),
    ],
)
def test_invalid_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskingSettings(**kwargs)


def test_settings_record_holds_effective_values():
    record = MaskingSettings(fractions=(0.1, 0.5), fill="blur").record((50, 40))
    assert record["blur_sigma"] == pytest.approx(1.6)
    assert record["pixel_counts"] == [200, 1000]
    assert record["code_version"].startswith("modelsvc-")


def test_maps_must_match_the_images():
    model = SmallCNN(num_classes=2).eval()
    spec = ModelSpec("small_cnn", 2, input_size=(32, 32))
    with pytest.raises(ValueError, match="'maps' parameter of evaluate_masking"):
        evaluate_masking(
            model,
            spec,
            torch.rand(2, 3, 32, 32),
            torch.rand(2, 16, 16),
            [0, 1],
            ["a", "b"],
            MaskingSettings(fill="zeros"),
        )


def test_mean_fill_value_is_the_mean_of_the_readable_images_for_any_batch_size(image_folder):
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    (image_folder / items[3].key).write_bytes(b"not an image")
    readable = [item for i, item in enumerate(items) if i != 3]
    expected = (
        load_batch([item.path for item in readable], (12, 12)).images.double().mean((0, 2, 3))
    )
    values = {mean_fill_value(items, (12, 12), batch_size=size) for size in (1, 4, 16)}
    assert len(values) == 1
    np.testing.assert_allclose(values.pop(), expected.numpy(), rtol=1e-12)
