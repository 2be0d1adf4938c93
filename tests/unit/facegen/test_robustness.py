"""Any valid parameters render a complete face: property test over the whole parameter space."""

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegen import PART_NAMES, FaceParams, ViewParams, render_face

SIZE = 128


def _strategy(cls) -> st.SearchStrategy:
    """Values drawn over each field's whole documented range (corners included)."""
    fields = {}
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if "range" in meta:
            fields[field.name] = st.floats(*meta["range"])
        elif "choices" in meta:
            fields[field.name] = st.sampled_from(meta["choices"])
        elif "flag" in meta:
            fields[field.name] = st.booleans()
        else:
            fields[field.name] = st.tuples(*[st.floats(0.0, 1.0)] * 3)
    return st.builds(cls, **fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(face=_strategy(FaceParams), view=_strategy(ViewParams))
def test_every_valid_face_renders_with_its_main_parts_inside_the_image(face, view):
    rendered = render_face(face, view, size=SIZE)
    assert rendered.image.size == (SIZE, SIZE)
    present = {PART_NAMES[i] for i in np.unique(rendered.parts)}
    # Brows are not required: at extreme corners side-swept hair may cover one, as real hair can.
    assert {"background", "skin", "hair", "left_eye", "right_eye", "nose", "mouth"} <= present
    assert ("glasses" in present) == face.glasses
    inner = np.isin(rendered.parts, [PART_NAMES.index(p) for p in PART_NAMES[3:]])
    assert not np.concatenate([inner[0], inner[-1], inner[:, 0], inner[:, -1]]).any()
