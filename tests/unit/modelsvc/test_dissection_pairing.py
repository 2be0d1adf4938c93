"""Hierarchical pairing end to end on planted activations: streamed counts (modelsvc) then
pairing statistics (analysis). Layer '0' of an identity "network" outputs its input, so each
unit's activation maps are exactly what the test plants."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from analysis.dissection import (
    classic_dissection,
    compare_pairings,
    pair_units,
    summarise_pairing,
)
from modelsvc.dissection import build_dictionary
from modelsvc.dissection.activations import dissect_units, tensor_batches

N_IMAGES, GRID = 90, 8  # activation maps 8x8, masks 16x16
TOP = 0.02


def _planted_world(seed=0):
    """Dictionary (eyes, nose; nose_width; gender) and the per-image facts it was made from."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((N_IMAGES, 2 * GRID, 2 * GRID), np.uint8)
    nose_cells = np.zeros((N_IMAGES, GRID, GRID), bool)
    for n in range(N_IMAGES):
        row, col = rng.integers(0, GRID - 2, 2)
        nose_cells[n, row : row + 2, col : col + 2] = True
        maps[n, 2 * row : 2 * row + 4, 2 * col : 2 * col + 4] = 2
        eye_row = (row + 4) % (GRID - 1)
        maps[n, 2 * eye_row : 2 * eye_row + 2, 0:4][
            maps[n, 2 * eye_row : 2 * eye_row + 2, 0:4] == 0
        ] = 1
    nose_width = rng.uniform(0.13, 0.25, N_IMAGES)
    gender = np.where(rng.permutation(N_IMAGES) % 2 == 0, "male", "female")
    dictionary = build_dictionary(
        names=[f"im{n}" for n in range(N_IMAGES)],
        label_maps=maps,
        part_names=("background", "eyes", "nose"),
        local_columns={"nose_width": ("nose", nose_width)},
        global_columns={"gender": gender},
    )
    wide = dictionary.local["nose_width=high"][1]
    return dictionary, nose_cells, wide, gender == "male", rng


def _planted_activations(nose_cells, wide, male, rng, n_noise=0):
    """Units: 0 fires on the nose, 1 on wide noses only, 2 everywhere on men, 3 on nothing;
    `n_noise` more pure-noise units."""
    noise = 0.1 * rng.random((N_IMAGES, 4 + n_noise, GRID, GRID))
    signal = np.zeros_like(noise)
    signal[:, 0] = nose_cells
    signal[:, 1] = nose_cells * wide[:, None, None]
    noise[:, 2] *= np.where(male, 3.0, 1.0)[:, None, None]
    return torch.from_numpy(signal + noise).float()


def _counts(activations, dictionary):
    return dissect_units(
        nn.Sequential(nn.Identity()),
        layers=["0"],
        batches=tensor_batches(activations, 16),
        dictionary=dictionary,
        top_fraction=TOP,
    )["0"]


def _noise_counts(dictionary, n_units=40, seed=9):
    """Counts of a network whose units respond to nothing (the random-weights baseline)."""
    rng = np.random.default_rng(seed)
    return _counts(
        torch.from_numpy(rng.random((N_IMAGES, n_units, GRID, GRID))).float(), dictionary
    )


@pytest.fixture(scope="module")
def planted():
    dictionary, nose_cells, wide, male, rng = _planted_world()
    counts = _counts(_planted_activations(nose_cells, wide, male, rng), dictionary)
    return dictionary, counts, _noise_counts(dictionary, n_units=200), (nose_cells, wide, male)


def test_hierarchical_pairing_recovers_the_planted_units(planted):
    dictionary, counts, baseline, _ = planted
    pairing = pair_units(counts, dictionary, baseline=baseline, n_permutations=500, random_state=0)
    table = pairing.table.set_index("unit")
    assert table.level.tolist() == ["part", "local", "global", "none"]
    assert table.concept.tolist()[:3] == ["nose", "nose_width=high", "gender=male"]
    assert table.part.tolist()[:2] == ["nose", "nose"]
    assert (table.p_value[:3] < 0.01).all()
    assert table.probability[0] > 0.9  # nearly all of unit 0's firing is on the nose
    assert table.probability[1] > 0.9  # unit 1 fires on the nose of wide-nosed faces only
    assert table.probability[2] > 0.95  # AUC of unit 2 for men
    summary = summarise_pairing(pairing)
    assert summary["per_level"] == {"part": 1, "local": 1, "global": 1, "none": 1}
    assert summary["unique_concepts"] == 3
    assert summary["share_unpaired"] == 0.25


def test_classic_dissection_sees_spatial_units_only(planted):
    dictionary, counts, _, _ = planted
    classic = classic_dissection(counts, dictionary)
    assert classic.detector.tolist() == [True, True, False, False]
    # Overlapping concepts: the unit firing on every nose may score best with a nose subset;
    # classic dissection cannot tell (the hierarchical pairing above says "part nose").
    assert classic.concept[0].startswith("nose")
    assert classic.concept[1] == "nose_width=high"


def test_permuted_attribute_labels_leave_only_the_part(planted):
    """Under shuffled attribute labels the wide-nose unit pairs with the attribute about as
    often as alpha (0.01) per attribute allows, and otherwise only with the part."""
    dictionary, counts, baseline, _ = planted
    levels = []
    for seed in range(40):
        shuffled = np.random.default_rng(100 + seed).permutation(
            dictionary.local["nose_width=high"][1]
        )
        local = {**dictionary.local, "nose_width=high": ("nose", shuffled)}
        table = pair_units(
            counts,
            dataclasses.replace(dictionary, local=local),
            baseline=baseline,
            n_permutations=200,
            random_state=seed,
        ).table
        levels.append((table.level[1], table.part[1]))
    assert levels.count(("part", "nose")) >= 37
    assert {part for _, part in levels} == {"nose"}


def test_pure_noise_units_pair_with_almost_nothing():
    dictionary, *_ = _planted_world()
    counts = _noise_counts(dictionary, n_units=60, seed=11)
    pairing = pair_units(
        counts, dictionary, baseline=_noise_counts(dictionary, seed=12), random_state=1
    )
    assert summarise_pairing(pairing)["share_unpaired"] >= 0.95


def test_a_random_network_as_strong_as_the_model_removes_the_part_pairing(planted):
    dictionary, counts, _, _ = planted
    table = pair_units(counts, dictionary, baseline=counts, random_state=0).table
    assert table.level[0] != "part"


def test_model_comparison_interval_shows_a_planted_difference_and_not_a_null_one(planted):
    dictionary, counts, baseline, (nose_cells, wide, male) = planted
    first = pair_units(counts, dictionary, baseline=baseline, n_permutations=200, random_state=0)
    rng = np.random.default_rng(4)
    activations = _planted_activations(nose_cells, wide, male, rng, n_noise=0).numpy()
    activations[:, 0] = 0.1 * rng.random((N_IMAGES, GRID, GRID))  # no nose unit in model 2
    second = pair_units(
        _counts(torch.from_numpy(activations), dictionary),
        dictionary,
        baseline=baseline,
        n_permutations=200,
        random_state=0,
    )
    table = compare_pairings(first, second, n_bootstrap=200, random_state=0).set_index(
        ["level", "concept"]
    )
    unpaired = table.loc[("none", "*")]  # model 2's nose unit is noise: one more unpaired unit
    assert unpaired.difference == 0.25
    assert unpaired.low > 0
    assert table.loc[("part", "nose")].difference == -0.25
    assert table.loc[("global", "gender=male")].difference == 0
    same = compare_pairings(first, first, n_bootstrap=50, random_state=0)
    assert (same.difference == 0).all()
    assert (same.low == 0).all()
    assert (same.high == 0).all()


def test_compare_pairings_averages_several_models_and_sums_combined_concepts(planted):
    dictionary, counts, baseline, _ = planted
    pairing = pair_units(counts, dictionary, baseline=baseline, n_permutations=200, random_state=0)
    noise = pair_units(
        _noise_counts(dictionary, n_units=4, seed=5),
        dictionary,
        baseline=baseline,
        n_permutations=200,
        random_state=0,
    )
    nose = [("part", "nose"), ("local", "nose_width=high")]
    table = compare_pairings(
        [noise, noise], [pairing, noise], combined={"nose": nose}, n_bootstrap=100, random_state=0
    ).set_index(["level", "concept"])
    # pairing: 1 of 4 units on the nose part and 1 on the wide-nose attribute; noise: none
    assert table.loc[("part", "nose")].share_second == 0.125
    assert table.loc[("combined", "nose")].share_second == 0.25
    assert table.loc[("combined", "nose")].share_first == 0
    assert table.loc[("combined", "nose")].low > 0
    with pytest.raises(ValueError, match="'combined' parameter of compare_pairings"):
        compare_pairings(pairing, pairing, combined={"x": [("part", "ears")]}, n_bootstrap=1)
    with pytest.raises(ValueError, match="'first' parameter of compare_pairings"):
        compare_pairings([], pairing, n_bootstrap=1)
