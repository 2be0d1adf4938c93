"""render_face: output format, part masks aligned with the drawn pixels, view geometry, errors."""

import math

import numpy as np
import pytest
from scipy import ndimage

from facegen import PART_NAMES, FaceParams, RenderedFace, ViewParams, render_face

SIZE = 128


def _pixels(face: RenderedFace) -> np.ndarray:
    return np.asarray(face.image, dtype=float)


def _centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def _changed_pixels_lie_in(a: RenderedFace, b: RenderedFace, part: str, threshold: float) -> float:
    """Share of pixels whose colour changed by > threshold that lie in `part` (dilated by 1 px)."""
    changed = np.abs(_pixels(a) - _pixels(b)).max(axis=-1) > threshold
    region = ndimage.binary_dilation(a.mask(part) | b.mask(part))
    assert changed.sum() > 20, "the parameter change should visibly change the image"
    return (changed & region).sum() / changed.sum()


def test_output_format_and_canonical_parts():
    face = render_face(FaceParams(glasses=True), size=SIZE)
    assert face.image.mode == "RGB"
    assert face.image.size == (SIZE, SIZE)
    assert face.parts.shape == (SIZE, SIZE)
    assert face.parts.dtype == np.uint8
    assert RenderedFace.PART_NAMES == PART_NAMES
    assert PART_NAMES[0] == "background"
    # Every part is present in a canonical face with glasses; corners are background.
    assert set(np.unique(face.parts)) == set(range(len(PART_NAMES)))
    assert (face.parts[[0, 0, -1], [0, -1, 0]] == 0).all()


def test_rendering_is_deterministic():
    first, second = (
        render_face(FaceParams(), ViewParams(rotation=7.0)),
        render_face(FaceParams(), ViewParams(rotation=7.0)),
    )
    assert np.array_equal(_pixels(first), _pixels(second))
    assert np.array_equal(first.parts, second.parts)


def test_eye_mask_colours_differ_from_skin_and_sides_are_anatomical():
    face = render_face(FaceParams(), size=SIZE)
    pixels = _pixels(face)
    skin = pixels[face.mask("skin")].mean(axis=0)
    for eye in ("left_eye", "right_eye"):
        assert face.mask(eye).sum() > 30
        assert np.linalg.norm(pixels[face.mask(eye)].mean(axis=0) - skin) > 40
    # The face's own left eye appears on the right side of the image.
    assert _centroid(face.mask("left_eye"))[0] > SIZE / 2 > _centroid(face.mask("right_eye"))[0]
    assert _centroid(face.mask("left_brow"))[0] > SIZE / 2 > _centroid(face.mask("right_brow"))[0]
    # Vertical order: brows above eyes above nose above mouth.
    ys = [_centroid(face.mask(p))[1] for p in ("left_brow", "left_eye", "nose", "mouth")]
    assert ys == sorted(ys)


def test_glasses_pixels_only_with_glasses_and_changes_lie_on_the_frames():
    without, with_glasses = (
        render_face(FaceParams(), size=SIZE),
        render_face(FaceParams(glasses=True), size=SIZE),
    )
    assert not without.mask("glasses").any()
    frames = with_glasses.mask("glasses")
    assert frames.sum() > 100
    assert _pixels(with_glasses)[frames].mean() < 90  # dark frames
    assert _changed_pixels_lie_in(without, with_glasses, "glasses", threshold=40) > 0.97


def test_iris_colour_changes_only_eye_pixels():
    brown = render_face(FaceParams(iris_color=(0.36, 0.22, 0.12)), size=SIZE)
    blue = render_face(FaceParams(iris_color=(0.2, 0.5, 0.9)), size=SIZE)
    assert np.array_equal(brown.parts, blue.parts)
    changed = np.abs(_pixels(brown) - _pixels(blue)).max(axis=-1) > 10
    eyes = brown.mask("left_eye") | brown.mask("right_eye")
    assert changed.sum() > 20
    assert (changed & ~ndimage.binary_dilation(eyes)).sum() == 0


def test_lip_colour_changes_only_mouth_pixels_and_red_lips_are_red():
    pale, red = (
        render_face(FaceParams(lip_redness=0.0), size=SIZE),
        render_face(FaceParams(lip_redness=1.0), size=SIZE),
    )
    assert _changed_pixels_lie_in(pale, red, "mouth", threshold=10) == 1.0
    lips, skin = (
        _pixels(red)[red.mask("mouth")].mean(axis=0),
        _pixels(red)[red.mask("skin")].mean(axis=0),
    )
    assert lips[0] - lips[1] > skin[0] - skin[1] + 20  # more red than green, relative to skin


def test_hair_tone_changes_hair_pixels():
    fair, black = (
        render_face(FaceParams(hair_tone=0.0), size=SIZE),
        render_face(FaceParams(hair_tone=1.0), size=SIZE),
    )
    # Brows take their colour from the hair, so they change too.
    changed = np.abs(_pixels(fair) - _pixels(black)).max(axis=-1) > 40
    hair_or_brows = fair.mask("hair") | fair.mask("left_brow") | fair.mask("right_brow")
    assert (changed & ndimage.binary_dilation(hair_or_brows)).sum() / changed.sum() > 0.97
    assert (
        _pixels(black)[black.mask("hair")].mean()
        < 50
        < _pixels(fair)[fair.mask("hair")].mean() - 100
    )


def test_edges_are_anti_aliased():
    def blended_background_share(supersample: int) -> float:
        face = render_face(
            FaceParams(), ViewParams(background_tone=0.5), size=64, supersample=supersample
        )
        background = face.mask("background")
        border = background & ndimage.binary_dilation(~background)
        pure = np.abs(_pixels(face)[border] - 0.5 * 255).max(axis=-1) <= 2
        return 1.0 - pure.mean()

    assert blended_background_share(1) == 0.0
    assert blended_background_share(4) > 0.3


def test_view_moves_image_and_masks_together():
    base = render_face(FaceParams(), size=SIZE)
    shifted = render_face(FaceParams(), ViewParams(shift_x=0.05, shift_y=-0.03), size=SIZE)
    # Inner parts (the neck is cut off at the bottom edge, so skin would not move rigidly).
    moved = _centroid(shifted.mask("nose")) - _centroid(base.mask("nose"))
    np.testing.assert_allclose(moved, [0.05 * SIZE, -0.03 * SIZE], atol=0.5)

    rotated = render_face(FaceParams(), ViewParams(rotation=20.0), size=SIZE)
    dx, dy = _centroid(rotated.mask("left_eye")) - _centroid(rotated.mask("right_eye"))
    assert math.degrees(math.atan2(dy, dx)) == pytest.approx(20.0, abs=2.0)  # clockwise on screen

    small = render_face(FaceParams(), ViewParams(scale=0.8), size=SIZE)
    inner = ("left_eye", "right_eye", "left_brow", "right_brow", "nose", "mouth")
    small_area, base_area = (sum(face.mask(p).sum() for p in inner) for face in (small, base))
    assert small_area / base_area == pytest.approx(0.64, rel=0.05)


def test_light_direction_brightens_the_lit_side():
    face = render_face(
        FaceParams(), ViewParams(light_azimuth=-70.0, light_elevation=0.0), size=SIZE
    )
    pixels, skin = _pixels(face).mean(axis=-1), face.mask("skin")
    left, right = skin.copy(), skin.copy()
    left[:, SIZE // 2 :], right[:, : SIZE // 2] = False, False
    assert pixels[left].mean() > pixels[right].mean() + 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"params": "face"},
            r"The 'params' parameter of render_face must be a FaceParams; got 'face'",
        ),
        ({"view": {"scale": 1.0}}, r"'view' parameter of render_face must be a ViewParams or None"),
        ({"size": 8}, r"The 'size' parameter of render_face must be an int in \[16, 1024\]; got 8"),
        ({"size": 64.0}, r"'size' parameter of render_face must be an int .*; got 64.0"),
        (
            {"supersample": 0},
            r"'supersample' parameter of render_face must be an int in \[1, 8\]; got 0",
        ),
        (
            {"size": 1024, "supersample": 8},
            r"'supersample' parameter of render_face times 'size' must be at most 4096",
        ),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs, message):
    arguments = {"params": FaceParams(), "view": None, "size": 32} | kwargs
    with pytest.raises(ValueError, match=message):
        render_face(**arguments)


def test_mask_rejects_unknown_part():
    with pytest.raises(
        ValueError, match=r"'part' parameter of RenderedFace.mask must be one of .*; got 'ear'"
    ):
        render_face(FaceParams(), size=32).mask("ear")
