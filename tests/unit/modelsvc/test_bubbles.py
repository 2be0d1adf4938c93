"""Models take the Bubbles test: a model that reads only the eyes gets a classification image
on the eyes, computed exactly like a participant's, judging a label or matching a reference."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from analysis.bubbles import BubblesDesign, ClassificationImageAccumulator, pixel_test
from analysis.bubbles.observers import disc_weights
from modelsvc.bubbles import bubbles_decisions, bubbles_matches, show_through
from modelsvc.spec import ModelSpec

DESIGN = BubblesDesign(height=48, width=48, sigma=3.0)
EYES = [(16, 14), (16, 34)]
SPEC = ModelSpec(
    architecture="small_cnn", num_classes=2, input_size=(48, 48), mean=(0, 0, 0), std=(1, 1, 1)
)


class EyesReader(nn.Module):
    """Says class 0 when the eye discs look brighter than the grey fill, class 1 otherwise."""

    def __init__(self, eyes: np.ndarray):
        super().__init__()
        self.eyes = nn.Parameter(torch.from_numpy(eyes).float(), requires_grad=False)

    def forward(self, x):
        brightness = (x[:, 0] * self.eyes).sum((1, 2)) / self.eyes.sum() - 0.5
        evidence = brightness - 0.08
        return torch.stack([evidence, -evidence], dim=1)


def test_show_through_blends_the_image_with_the_fill():
    images = torch.rand(2, 3, 4, 5)
    visibility = torch.zeros(2, 4, 5)
    visibility[0] = 1
    shown = show_through(images, visibility, (0.2, 0.4, 0.6))
    torch.testing.assert_close(shown[0], images[0])
    assert shown[1, :, 0, 0].tolist() == pytest.approx([0.2, 0.4, 0.6])
    with pytest.raises(ValueError, match="'visibility'"):
        show_through(images, torch.zeros(2, 4, 4), (0.5, 0.5, 0.5))


def test_a_model_that_reads_the_eyes_gets_a_classification_image_on_the_eyes():
    eyes = disc_weights(DESIGN, EYES, 4)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((1, 3, 48, 48))).float()  # texture everywhere ...
    image[:, :, torch.from_numpy(eyes > 0)] = 1.0  # ... and bright eyes
    n = 1500
    seeds, counts = rng.integers(0, 2**32, n), np.full(n, 12)
    correct, _ = bubbles_decisions(
        EyesReader(eyes),
        SPEC,
        image,
        np.zeros(n, dtype=int),
        DESIGN.masks(seeds, counts),
        np.zeros(n, dtype=int),
        batch_size=200,
    )
    assert 0.2 < correct.mean() < 0.8
    result = ClassificationImageAccumulator(DESIGN).add_trials(seeds, counts, correct).image()
    found = pixel_test(result.z, result.fwhm).significant
    assert found[tuple(np.array(EYES).T)].all()
    assert not (found & ~ndimage.binary_dilation(eyes > 0, iterations=DESIGN.radius)).any()


def test_trials_must_line_up():
    model = EyesReader(np.ones((48, 48)))
    with pytest.raises(ValueError, match="one row per trial"):
        bubbles_decisions(
            model, SPEC, torch.rand(1, 3, 48, 48), [0, 0], np.ones((1, 48, 48)), [0, 0]
        )
    with pytest.raises(ValueError, match="must index the 1 images"):
        bubbles_decisions(model, SPEC, torch.rand(1, 3, 48, 48), [1], np.ones((1, 48, 48)), [0])


class Pixels(nn.Module):
    """An embedding that is the image's pixels."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)

    def forward(self, x):
        return (x * self.scale).reshape(len(x), -1)


def test_a_model_matching_images_that_share_only_the_eyes_gets_a_map_on_the_eyes():
    eyes = disc_weights(DESIGN, EYES, 4)
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.random((4, 3, 48, 48))).float()  # every image its own texture
    on_eyes = torch.from_numpy(eyes > 0)
    for identity in (0, 1):  # images 2k and 2k + 1 share identity k's eyes
        pattern = torch.from_numpy(rng.random((3, int(on_eyes.sum())))).float()
        images[2 * identity][:, on_eyes] = pattern
        images[2 * identity + 1][:, on_eyes] = pattern
    n = 1500
    references = rng.integers(0, 4, n)
    targets = references ^ 1  # the other image of the same identity
    foils = 2 * (1 - references // 2) + rng.integers(0, 2, n)  # an image of the other one
    seeds, counts = rng.integers(0, 2**32, n), np.full(n, 12)
    model = nn.Sequential(Pixels())  # pixel correlation: images of an identity share the eyes
    correct = bubbles_matches(
        model,
        SPEC,
        images,
        np.stack([references, targets, foils], axis=1),
        DESIGN.masks(seeds, counts),
        layer="0",
        batch_size=128,
    )
    assert 0.55 < correct.mean() < 0.95  # measured 0.88: neither chance nor always right
    result = ClassificationImageAccumulator(DESIGN).add_trials(seeds, counts, correct).image()
    found = pixel_test(result.z, result.fwhm).significant
    assert found[tuple(np.array(EYES).T)].all()
    assert not (found & ~ndimage.binary_dilation(eyes > 0, iterations=DESIGN.radius)).any()
    # every image shown in full: the target always wins
    full = np.ones((8, 48, 48))
    trials = np.stack([references[:8], targets[:8], foils[:8]], axis=1)
    assert bubbles_matches(model, SPEC, images, trials, full, layer="0").all()


def test_match_trials_must_line_up():
    model = nn.Sequential(Pixels())
    images = torch.rand(3, 3, 48, 48)
    with pytest.raises(ValueError, match="one \\(reference, target, foil\\) row per mask"):
        bubbles_matches(model, SPEC, images, [[0, 1, 2]], np.ones((2, 48, 48)), layer="0")
    with pytest.raises(ValueError, match="must index the 3 images"):
        bubbles_matches(model, SPEC, images, [[0, 1, 3]], np.ones((1, 48, 48)), layer="0")
