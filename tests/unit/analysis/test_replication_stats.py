"""Generalisation inference and relevance-map comparison against slow, obvious references."""

import itertools
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis import map_comparison
from analysis.bubbles import map_agreement
from analysis.generalisation_inference import (
    CrossCorrect,
    asymmetry_intervals,
    auc_draws,
    cell_intervals,
    factor_contrasts,
    only_differs,
)
from analysis.inference import bootstrap_indices
from analysis.map_comparison import (
    agreement_summary,
    consensus_maps,
    consensus_share,
    pairwise_map_agreement,
    top_masks,
)
from analysis.replication import replication_analysis

FRACTIONS = (0.05, 0.1, 0.3, 0.6)


def grid_info(pretrainings=("faces", "objects"), tasks=("gender", "identity"), seeds=(0, 1)):
    rows = [
        {"model": f"{p}-{t}-{s}", "pretraining": p, "task": t, "seed": s}
        for p, t, s in itertools.product(pretrainings, tasks, seeds)
    ]
    return pd.DataFrame(rows)


def simulated_cross(info, n_images=40, mode="keep", seed=0, weights=None, noise=0.05):
    """Correctness that falls with k and rises with each attribute the mask source shares
    with the tested model (`weights`: attribute -> effect; baselines share none)."""
    weights = weights or {"pretraining": 0.12, "task": 0.12, "seed": 0.12}
    rng = np.random.default_rng(seed)
    models = tuple(info["model"])
    m = len(models)
    sources = (*models, "random", "center")
    shared = np.zeros((len(sources), m))
    for a, b in itertools.product(range(m), range(m)):
        shared[a, b] = sum(w * (info.iloc[a][f] == info.iloc[b][f]) for f, w in weights.items())
    p = 0.45 + shared[:, :, None, None] - 0.3 * np.asarray(FRACTIONS)
    p = np.clip(p + rng.normal(0, noise, (len(sources), m, 1, 1)), 0.02, 0.98)
    if mode == "remove":
        p = 1 - p
    correct = rng.random((len(sources), m, n_images, len(FRACTIONS))) < p
    unmasked = rng.random((m, n_images)) < 0.9
    return CrossCorrect(correct, sources, models, FRACTIONS, mode, unmasked)


def slow_auc(correct_cell):
    """Accuracy per k (mean over images), trapezoid by hand, divided by the k range."""
    acc = [correct_cell[:, k].mean() for k in range(len(FRACTIONS))]
    area = sum(
        (acc[k] + acc[k + 1]) / 2 * (FRACTIONS[k + 1] - FRACTIONS[k])
        for k in range(len(FRACTIONS) - 1)
    )
    return area / (FRACTIONS[-1] - FRACTIONS[0])


def slow_boot_auc(cross, n_boot, seed):
    """Brute force: resample images per draw, recompute every cell's AUC."""
    draws = bootstrap_indices(cross.n_images, n_boot, seed)
    s, m = len(cross.sources), len(cross.models)
    out = np.zeros((n_boot, s, m))
    for b, idx in enumerate(draws):
        for i in range(s):
            for j in range(m):
                out[b, i, j] = slow_auc(np.asarray(cross.correct)[i, j][idx].astype(float))
    return out


def test_auc_draws_equal_brute_force_resampling():
    cross = simulated_cross(grid_info(seeds=(0,)), n_images=15)
    point, boot, _ = auc_draws(cross, 30, 5)
    slow = slow_boot_auc(cross, 30, 5)
    assert boot == pytest.approx(slow, abs=1e-12)
    for i, j in np.ndindex(point.shape):
        assert point[i, j] == pytest.approx(slow_auc(cross.correct[i, j].astype(float)))


def test_cell_and_asymmetry_intervals_equal_percentiles_of_slow_draws():
    cross = simulated_cross(grid_info(seeds=(0,)), n_images=15)
    point, boot, _ = auc_draws(cross, 40, 3)
    slow = slow_boot_auc(cross, 40, 3)
    cells = cell_intervals(cross, point, boot)
    base = cross.sources.index("random")
    for row in cells.itertuples():
        a, b = cross.sources.index(row.model_a), cross.models.index(row.model_b)
        assert (row.ci_low, row.ci_high) == pytest.approx(
            tuple(np.percentile(slow[:, a, b], [2.5, 97.5]))
        )
        if row.model_a in cross.models:
            gain = slow[:, a, b] - slow[:, base, b]
            assert row.gain_ci_low == pytest.approx(np.percentile(gain, 2.5))
            below, above = np.sum(gain <= 0), np.sum(gain >= 0)
            assert row.gain_p == pytest.approx(min(1, 2 * (min(below, above) + 1) / 41))
        else:
            assert np.isnan(row.gain_over_baseline)
    asym = asymmetry_intervals(cross, point, boot)
    assert len(asym) == 6  # 4 models: C(4, 2) pairs
    for row in asym.itertuples():
        a, b = cross.models.index(row.model_a), cross.models.index(row.model_b)
        diff = slow[:, a, b] - slow[:, b, a]
        assert row.asymmetry == pytest.approx(point[a, b] - point[b, a])
        assert row.ci_high == pytest.approx(np.percentile(diff, 97.5))
        below, above = np.sum(diff <= 0), np.sum(diff >= 0)
        assert row.p == pytest.approx(min(1, 2 * (min(below, above) + 1) / 41))
    assert (asym["p_fdr"] >= asym["p"]).all()


def test_only_differs_by_hand():
    info = grid_info(pretrainings=("faces",), seeds=(0, 1))  # faces-gender-0, -1, identity-0, -1
    masks = only_differs(list(info["model"]), info, ["task", "seed"])
    assert masks["seed"].astype(int).tolist() == [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 0, 1, 0],
    ]
    assert masks["task"][0, 2]
    assert not masks["task"][0, 3]


def slow_contrast(transfer, info, first, second, factors, labels):
    """Mean transfer over pairs differing only in `first` minus only in `second`, with model
    i carrying the attributes of model labels[i]."""
    rows = info.set_index("model").loc[[info["model"][k] for k in labels]]

    def mean_only(f):
        vals = []
        for i, j in itertools.permutations(range(len(rows)), 2):
            diff = [rows.iloc[i][g] != rows.iloc[j][g] for g in factors]
            if diff[factors.index(f)] and sum(diff) == 1:
                vals.append(transfer[i, j])
        return np.mean(vals)

    return mean_only(first) - mean_only(second)


@pytest.mark.parametrize("mode", ["keep", "remove"])
def test_factor_contrasts_exact_permutation_equals_enumeration(mode):
    info = grid_info(tasks=("gender",))  # 2 pretrainings x 2 seeds = 4 models, 24 relabellings
    cross = simulated_cross(info, mode=mode, seed=2)
    point, boot, _ = auc_draws(cross, 50, 1)
    factors = ["seed", "pretraining"]
    levels, contrasts = factor_contrasts(
        cross, point, boot, info, factors, n_permutations=100, random_state=0
    )
    sign = 1 if mode == "keep" else -1
    base = cross.sources.index("random")
    transfer = sign * (point[:4, :] - point[base][None, :])
    self_row = levels.set_index("relation").loc["self"]
    assert self_row["transfer"] == pytest.approx(np.mean(np.diag(transfer)))
    observed = slow_contrast(transfer, info, "seed", "pretraining", factors, range(4))
    null = [
        slow_contrast(transfer, info, "seed", "pretraining", factors, perm)
        for perm in itertools.permutations(range(4))
    ]
    row = contrasts.iloc[0]
    assert row["contrast"] == "seed - pretraining"
    assert bool(row["exact"])
    assert row["difference"] == pytest.approx(observed)
    assert row["p_permutation"] == pytest.approx(np.mean(np.array(null) >= observed - 1e-12))
    assert row["n_permutations"] == 24


def test_factor_contrasts_random_permutations_and_fdr_over_the_ordering():
    info = grid_info()
    cross = simulated_cross(info, seed=4)
    point, boot, _ = auc_draws(cross, 200, 0)
    levels, contrasts = factor_contrasts(
        cross, point, boot, info, ["seed", "task", "pretraining"], n_permutations=500
    )
    assert list(contrasts["contrast"]) == ["seed - task", "task - pretraining"]
    assert not contrasts["exact"].any()
    assert (contrasts["p_permutation"] >= 1 / 501).all()
    only = levels.set_index("relation")
    assert only.loc["only seed", "n_pairs"] == 8
    diff = only.loc["only task", "transfer"] - only.loc["only pretraining", "transfer"]
    assert contrasts.iloc[1]["difference"] == pytest.approx(diff)
    assert (contrasts["p_fdr"] >= contrasts["p_permutation"]).all()


def test_pairwise_map_agreement_equals_map_agreement_per_image():
    rng = np.random.default_rng(0)
    maps = {m: rng.normal(size=(5, 6, 7)) for m in ("a", "b", "c")}
    maps["c"][:, :3] = maps["a"][:, :3]  # partly shared
    maps["b"][0, 0, :4] = 0.0  # ties
    table = pairwise_map_agreement(maps, top_fraction=0.2)
    assert len(table) == 3 * 5
    for row in table.itertuples():
        ref = map_agreement(
            maps[row.model_a][int(row.image)], maps[row.model_b][int(row.image)], top_fraction=0.2
        )
        assert row.spearman == pytest.approx(ref["spearman"], abs=1e-6)
        assert row.top_iou == pytest.approx(ref["top_iou"])


def test_map_comparison_in_image_chunks_equals_all_at_once(monkeypatch):
    rng = np.random.default_rng(2)
    maps = {m: rng.normal(size=(5, 6, 7)) for m in ("a", "b", "c")}
    whole = pairwise_map_agreement(maps, top_fraction=0.2)
    consensus = consensus_maps(maps, top_fraction=0.3, groups={"ab": ["a", "b"]})
    monkeypatch.setattr(map_comparison, "_CHUNK_PIXELS", 2 * 42)  # 2 images per chunk
    pd.testing.assert_frame_equal(pairwise_map_agreement(maps, top_fraction=0.2), whole)
    again = consensus_maps(maps, top_fraction=0.3, groups={"ab": ["a", "b"]})
    for name, mask in consensus.items():
        np.testing.assert_array_equal(again[name], mask)
    assert consensus["ab"].sum() >= consensus["all models"].sum()


def test_agreement_summary_intervals_equal_brute_force():
    rng = np.random.default_rng(1)
    info = grid_info(pretrainings=("faces",), seeds=(0, 1))
    maps = {m: rng.normal(size=(12, 5, 5)) for m in info["model"]}
    per_image = pairwise_map_agreement(maps, top_fraction=0.2)
    pairs, relations = agreement_summary(
        per_image, info, ["task", "seed"], n_boot=60, random_state=9
    )
    draws = bootstrap_indices(12, 60, 9)
    only_seed = [("faces-gender-0", "faces-gender-1"), ("faces-identity-0", "faces-identity-1")]
    wide = per_image.pivot_table(index="image", columns=["model_a", "model_b"], values="top_iou")
    wide = wide.loc[[str(i) for i in range(12)]]
    boot = [np.mean([wide[p].to_numpy()[idx].mean() for p in only_seed]) for idx in draws]
    row = relations.set_index("relation").loc["only seed"]
    assert row["n_pairs"] == 2
    assert row["top_iou"] == pytest.approx(np.mean([wide[p].mean() for p in only_seed]))
    assert (row["top_iou_ci_low"], row["top_iou_ci_high"]) == pytest.approx(
        tuple(np.percentile(boot, [2.5, 97.5]))
    )
    first = pairs.iloc[0]
    spear = per_image.pivot_table(
        index="image", columns=["model_a", "model_b"], values="spearman"
    ).loc[[str(i) for i in range(12)]]
    key = (first["model_a"], first["model_b"])
    boot = [spear[key].to_numpy()[idx].mean() for idx in draws]
    assert first["spearman_ci_low"] == pytest.approx(np.percentile(boot, 2.5))


def test_consensus_map_by_hand():
    # one 2 x 3 image, top 2 pixels (f = 1/3 of 6); pixels numbered 0..5 row by row
    a = np.array([[[9, 8, 0], [0, 0, 0]]], float)  # top {0, 1}
    b = np.array([[[9, 0, 8], [0, 0, 0]]], float)  # top {0, 2}
    c = np.array([[[0, 0, 0], [0, 9, 8]]], float)  # top {4, 5}
    maps = {"a": a, "b": b, "c": c}
    got = consensus_maps(maps, top_fraction=1 / 3, groups={"faces": ["a", "b"]})
    assert got["faces"][0].tolist() == [[True, False, False], [False, False, False]]
    assert not got["all models"].any()
    share = consensus_share(
        got, {"all models": 3, "faces": 2}, top_fraction=1 / 3, n_boot=10, random_state=0
    )
    row = share.set_index("consensus").loc["faces"]
    assert row["share_of_top_k"] == pytest.approx(0.5)  # 1 of k = 2 pixels
    assert row["chance"] == pytest.approx(1 / 3)
    assert share.set_index("consensus").loc["all models", "share_of_top_k"] == 0


def test_spearman_of_constant_map_is_nan_not_an_error():
    maps = {"a": np.ones((1, 3, 3)), "b": np.arange(9, dtype=float).reshape(1, 3, 3)}
    row = pairwise_map_agreement(maps, top_fraction=0.3).iloc[0]
    assert np.isnan(row["spearman"])
    assert row["top_iou"] == 0  # top 3: {0, 1, 2} (ties by index) vs {8, 7, 6}


def test_any_model_attribute_is_a_factor():
    info = grid_info(pretrainings=("faces",), seeds=(0,))
    info = pd.concat([info, info.assign(model=info["model"] + "-bn", arch="vgg16_bn")])
    info["arch"] = info["arch"].fillna("vgg16")
    cross = simulated_cross(info, weights={"arch": 0.3, "task": 0.0}, noise=0.0, n_images=200)
    point, boot, _ = auc_draws(cross, 100, 0)
    levels, contrasts = factor_contrasts(
        cross, point, boot, info, ["task", "arch"], order=["arch", "task"], n_permutations=24
    )
    only = levels.set_index("relation")
    assert only.loc["only arch", "n_pairs"] == 4
    assert only.loc["only task", "transfer"] > only.loc["only arch", "transfer"] + 0.2
    assert contrasts["contrast"].tolist() == ["arch - task"]
    assert contrasts["exact"].all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sources": ("x", "y", "random", "center")}, "the models first"),
        ({"mode": "blur"}, "'mode'"),
        ({"fractions": (0.1,)}, "(S, M, N, K)"),
        ({"unmasked_correct": np.ones((2, 3), bool)}, "'unmasked_correct'"),
    ],
)
def test_cross_correct_refuses_inconsistent_inputs(change, message):
    cross = simulated_cross(grid_info(pretrainings=("faces",), seeds=(0,)), n_images=5)
    fields = {
        "correct": cross.correct,
        "sources": cross.sources,
        "models": cross.models,
        "fractions": cross.fractions,
        **change,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        CrossCorrect(**fields)


def test_top_masks_equal_a_stable_sort_with_ties():
    rng = np.random.default_rng(5)
    maps = rng.integers(0, 4, size=(20, 5, 6)).astype(float)  # many ties
    got = top_masks(maps, 0.3)
    for image, mask in zip(maps, got, strict=True):
        order = np.argsort(-image.ravel(), kind="stable")[:9]  # floor(0.3 * 30 + 0.5) = 9
        assert set(np.flatnonzero(mask)) == set(order)


def test_transfer_needs_the_random_baseline_and_the_claims_say_so():
    info = grid_info(pretrainings=("faces",), seeds=(0, 1))
    cross = simulated_cross(info, n_images=20)
    no_random = replace(
        cross, correct=cross.correct[[0, 1, 2, 3, 5]], sources=(*cross.sources[:4], "center")
    )
    point, boot, _ = auc_draws(no_random, 20, 0)
    with pytest.raises(ValueError, match="'random' mask source"):
        factor_contrasts(no_random, point, boot, info, ["task", "seed"])
    claims = replication_analysis(no_random, info, n_boot=20).claims.set_index("claim")
    for claim in ("Relevance is stable across seeds", "Relevance generalises across tasks"):
        assert claims.loc[claim, "verdict"] == "inconclusive"
        assert claims.loc[claim, "reason"].startswith("not measured")
