"""sample_identity / sample_view: the gender latent, identity spread, per-image variation."""

import dataclasses

import numpy as np
import pytest

from facegen import FaceParams, ViewParams, sample_identity, sample_view
from facegen.sampling import GENDERED_FIELDS, MAX_VIEW_VARIATION, VIEW_JITTER


@pytest.fixture(scope="module")
def identities():
    rng = np.random.default_rng(0)
    return {g: [sample_identity(rng, g) for _ in range(500)] for g in ("female", "male")}


def _values(identities, gender, name):
    return np.array([getattr(p, name) for p in identities[gender]])


def test_gender_shifts_its_fields_consistently_but_every_field_overlaps(identities):
    combined = {"female": 0.0, "male": 0.0}
    for name, (mean, shift, sd) in GENDERED_FIELDS.items():
        female, male = _values(identities, "female", name), _values(identities, "male", name)
        pooled_sd = np.sqrt((female.var() + male.var()) / 2)
        effect = (male.mean() - female.mean()) / pooled_sd
        assert np.sign(effect) == np.sign(shift), name
        assert 0.8 < abs(effect) < 2.0, (name, effect)
        # Best threshold on this one field: clearly above chance, far from perfect.
        threshold, sign = (male.mean() + female.mean()) / 2, np.sign(shift)
        accuracy = (
            np.mean(sign * (male - threshold) > 0) + np.mean(sign * (female - threshold) < 0)
        ) / 2
        assert 0.6 < accuracy < 0.85, (name, accuracy)
        for gender, values in (("female", female), ("male", male)):
            combined[gender] = combined[gender] + sign * (values - mean) / sd
    # All shifted fields together make gender well learnable (measured 0.955 with this seed).
    accuracy = (np.mean(combined["male"] > 0) + np.mean(combined["female"] < 0)) / 2
    assert accuracy > 0.9


def test_other_fields_do_not_depend_on_gender_and_spread_over_their_range(identities):
    for field in dataclasses.fields(FaceParams):
        if "range" not in field.metadata or field.name in GENDERED_FIELDS:
            continue
        female, male = (
            _values(identities, "female", field.name),
            _values(identities, "male", field.name),
        )
        pooled_sd = np.sqrt((female.var() + male.var()) / 2)
        assert abs(male.mean() - female.mean()) / pooled_sd < 0.25, field.name
        low, high = field.metadata["range"]
        both = np.concatenate([female, male])
        assert both.min() < low + 0.2 * (high - low), field.name
        assert both.max() > high - 0.2 * (high - low), field.name
    styles = {p.hair_style for group in identities.values() for p in group}
    assert styles == {"swept_back", "fringe", "side_part"}


def test_sample_identity_is_reproducible_and_sets_glasses():
    first = sample_identity(np.random.default_rng(3), "male", glasses=True)
    assert first == sample_identity(np.random.default_rng(3), "male", glasses=True)
    assert first.glasses
    assert first != sample_identity(np.random.default_rng(4), "male", glasses=True)


def test_sample_view_stays_within_the_jitter_and_uses_it():
    rng = np.random.default_rng(1)
    canonical = ViewParams()
    views = [sample_view(rng) for _ in range(300)]
    for name, half_width in VIEW_JITTER.items():
        offsets = np.array([getattr(v, name) - getattr(canonical, name) for v in views])
        assert np.abs(offsets).max() <= half_width + 1e-12
        assert np.abs(offsets).max() > 0.9 * half_width, name
    assert sample_view(rng, variation=0.0) == canonical
    strongest = sample_view(np.random.default_rng(2), variation=MAX_VIEW_VARIATION)
    assert isinstance(strongest, ViewParams)


GENDER_MESSAGE = (
    r"The 'gender' parameter of sample_identity must be one of \['female', 'male'\]; got 'other'"
)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_identity(np.random.default_rng(0), "other"), GENDER_MESSAGE),
        (lambda: sample_identity(0, "male"), r"'rng' parameter of sample_identity must be a numpy"),
        (
            lambda: sample_view(np.random.default_rng(0), 2.0),
            r"'variation' .* \[0.0, 1.5\]; got 2.0",
        ),
        (
            lambda: sample_view(np.random.RandomState(0)),
            r"'rng' parameter of sample_view must be a",
        ),
    ],
)
def test_invalid_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
