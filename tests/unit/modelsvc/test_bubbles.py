"""Models take the Bubbles test: a model that reads only the eyes gets a classification image
on the eyes, computed exactly like a participant's."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from analysis.bubbles import BubblesDesign, ClassificationImageAccumulator, pixel_test
from analysis.bubbles.observers import disc_weights
from modelsvc.bubbles import bubbles_decisions, show_through
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
