"""Settings of the bias experiment and the concepts it counts as glasses."""

import pytest

import facegen
from facegen.dictionary import dictionary_columns
from modelsvc.dissection import build_dictionary
from modelsvc.dissection.bias import BiasSettings, concept_keys


def test_biased_and_control_rates():
    settings = BiasSettings(bias_rate=0.9, biased_gender="male")
    assert settings.glasses_rates("biased") == pytest.approx({"female": 0.1, "male": 0.9})
    assert settings.glasses_rates("control") == {"female": 0.5, "male": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": (1, 1)}, "'seeds' parameter of BiasSettings must hold at least 2 different"),
        ({"bias_rate": 0.3}, "'bias_rate' parameter of BiasSettings"),
        ({"biased_gender": "other"}, "'biased_gender' parameter of BiasSettings"),
        ({"architecture": "vgg99"}, "'name' parameter of get_architecture"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiasSettings(**kwargs)


def test_glasses_concepts_are_the_part_and_the_global_labels():
    samples = facegen.make_dataset(8, 1, 64, seed=0, glasses_rate=0.5)
    dictionary = build_dictionary(
        names=[s.name for s in samples],
        label_maps=[s.parts for s in samples],
        **dictionary_columns(samples, local={}, parameters=()),
    )
    assert concept_keys(dictionary) == [
        ("part", "glasses"),
        ("global", "glasses=no"),
        ("global", "glasses=yes"),
    ]
