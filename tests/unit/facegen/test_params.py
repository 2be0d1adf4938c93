"""FaceParams / ViewParams: defaults, validation messages, documentation, serialisation."""

import dataclasses

import pytest

from facegen import FaceParams, ViewParams


@pytest.mark.parametrize("cls", [FaceParams, ViewParams])
def test_defaults_are_valid_and_every_field_is_documented_with_its_range(cls):
    instance = cls()
    for field in dataclasses.fields(cls):
        line = next(
            row for row in cls.__doc__.splitlines() if row.strip().startswith(field.name + " ")
        )
        if "range" in field.metadata:
            low, high = field.metadata["range"]
            assert f"[{low}, {high}]" in line
            assert low <= getattr(instance, field.name) <= high


FULL_MESSAGE = r"The 'eye_size' parameter of FaceParams must be a number in \[0.14, 0.21\]; got 0.5"
STYLE_CHOICES = r"must be one of \['swept_back', 'fringe', 'side_part'\]; got 'mohawk'"


@pytest.mark.parametrize(
    ("cls", "field", "value", "expected"),
    [
        (FaceParams, "eye_size", 0.5, FULL_MESSAGE),
        (
            FaceParams,
            "face_width",
            float("nan"),
            r"'face_width' parameter of FaceParams .*; got nan",
        ),
        (FaceParams, "skin_tone", "dark", r"'skin_tone' parameter of FaceParams .*; got 'dark'"),
        (FaceParams, "jaw_width", True, r"'jaw_width' parameter of FaceParams .*; got True"),
        (
            FaceParams,
            "hair_style",
            "mohawk",
            r"'hair_style' parameter of FaceParams " + STYLE_CHOICES,
        ),
        (FaceParams, "glasses", 1, r"'glasses' parameter of FaceParams must be a bool; got 1"),
        (FaceParams, "iris_color", (0.1, 0.2), r"'iris_color' parameter .* an \(r, g, b\) triple"),
        (FaceParams, "iris_color", (0.1, 0.2, 1.5), r"'iris_color\[2\]' parameter .*; got 1.5"),
        (
            ViewParams,
            "rotation",
            90,
            r"'rotation' parameter of ViewParams .* \[-25.0, 25.0\]; got 90",
        ),
        (ViewParams, "scale", -1.0, r"'scale' parameter of ViewParams .*; got -1.0"),
    ],
)
def test_out_of_range_values_raise_value_error_naming_the_field(cls, field, value, expected):
    with pytest.raises(ValueError, match=expected):
        cls(**{field: value})


def test_values_are_normalised_for_serialisation():
    face = FaceParams(eye_size=0.2, iris_color=[0.1, 0.2, 0.3], brow_tilt=5)
    assert face.iris_color == (0.1, 0.2, 0.3)
    assert isinstance(face.brow_tilt, float)
    assert FaceParams(**face.to_dict()) == face
    assert face.to_dict()["iris_color"] == [0.1, 0.2, 0.3]


def test_field_range_reports_the_validated_interval():
    low, high = FaceParams.field_range("eye_spacing")
    FaceParams(eye_spacing=low)
    FaceParams(eye_spacing=high)
    with pytest.raises(ValueError, match="eye_spacing"):
        FaceParams(eye_spacing=high + 1e-9)
