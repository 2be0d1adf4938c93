"""dlib's face-recognition network read by modelsvc against dlib's own C++ on real faces.

Skips with the reason when the models package, the datasets or libdlib-dev/g++ are absent.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modelsvc.artifacts import load_arrays
from modelsvc.builtin import builtin_spec
from modelsvc.finetuning import FinetuneSettings, finetune
from modelsvc.images import StimulusItem, load_batch, normalize
from modelsvc.relevance import compute_relevance
from modelsvc.weights import load_model, save_checkpoint
from tests.integration.modelsvc import dlib_oracle

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("FACESIM_DATASETS_DIR", REPO / ".." / "shared" / "datasets"))


def _spec_or_skip():
    try:
        return builtin_spec("dlib_resnet29")
    except ValueError as exc:
        pytest.skip(str(exc))


def _chips(paths) -> np.ndarray:
    """Each photo resized to the same 150x150 RGB chip for both sides (no alignment)."""
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((150, 150), Image.BILINEAR)) for p in paths]
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    reason = dlib_oracle.missing()
    if reason:
        pytest.skip(f"dlib's C++ reference cannot be built: {reason}")
    return dlib_oracle.compile_reference(tmp_path_factory.mktemp("dlib"))


@pytest.fixture(scope="module")
def faces():
    orl, omi = DATASETS / "orl_faces", DATASETS / "omi_faces" / "images"
    if not (orl.is_dir() and omi.is_dir()):
        pytest.skip(f"ORL/OMI faces not available under {DATASETS}")
    paths = [orl / f"s{i}" / f"{1 + i % 10}.pgm" for i in range(1, 13)]
    paths += [omi / f"{i}.jpg" for i in range(1, 97, 8)]
    return _chips(paths)


def test_embeddings_equal_dlib_cpp_on_24_real_faces(faces, reference, tmp_path):
    spec = _spec_or_skip()
    assert len(faces) == 24
    expected = dlib_oracle.reference_embeddings(reference, Path(spec.weights_path), faces, tmp_path)
    model = load_model(spec)
    pixels = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        ours = model(normalize(pixels, spec)).double().numpy()
    assert expected.shape == (24, 128)
    worst = np.abs(ours - expected).max()
    print(f"max |ours - dlib C++| = {worst:.3g}")
    assert worst <= 1e-4
    # real descriptors, not a degenerate output: different people are far apart
    assert np.linalg.norm(expected[0] - expected[1]) > 0.3


def test_cli_embeds_a_folder_of_photos_with_the_builtin_network(tmp_path):
    spec = _spec_or_skip()
    orl = DATASETS / "orl_faces"
    if not orl.is_dir():
        pytest.skip(f"ORL faces not available under {DATASETS}")
    folder = tmp_path / "photos"
    folder.mkdir()
    for person in (1, 2):
        for shot in (1, 2):
            photo = (orl / f"s{person}" / f"{shot}.pgm").read_bytes()
            (folder / f"s{person}_{shot}.pgm").write_bytes(photo)
    (folder / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    words = ["embed", "--architecture", "dlib_resnet29", "--images", str(folder)]
    words += ["--layers", "layers.13,fc", "--metric", "euclidean", "--out", str(out), "--quiet"]
    result = subprocess.run(
        [sys.executable, "-m", "modelsvc", *words],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["failed"]) == (4, 1)
    arrays, record = load_arrays(out / "embeddings.npz")
    assert record["model"] == spec.cache_key()
    assert arrays["fc"].shape == (4, 128)
    assert arrays["layers.13"].shape == (4, 256)
    # the descriptor equals the network's output on the platform's own preprocessing
    batch = load_batch(sorted(folder.glob("s*.pgm")), spec.input_size).images
    with torch.no_grad():
        direct = load_model(spec)(normalize(batch, spec)).numpy()
    np.testing.assert_allclose(arrays["fc"].astype(np.float32), direct, atol=2e-3)
    matrices, _ = load_arrays(out / "dissimilarity.npz")
    expected = np.linalg.norm(direct[:, None] - direct[None], axis=-1)
    np.testing.assert_allclose(matrices["fc"], expected, atol=5e-3)


def test_lrp_conserves_relevance_through_affine_layers_and_residual_adds():
    spec = _spec_or_skip()
    model = load_model(spec).double()
    with torch.no_grad():  # without biases (conv bias, affine beta) LRP must conserve exactly
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d | torch.nn.BatchNorm2d):
                module.bias.zero_()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 150, 150, generator=generator, dtype=torch.float64)
    for method in ("epsilon_plus_flat", "epsilon_alpha2_beta1_flat"):
        result = compute_relevance(model, spec, images, method=method, targets=[3, 77])
        assert result.record()["backend"] == "zennit"
        totals = result.maps.astype(np.float64).sum(axis=(1, 2))
        # initial relevance is the one-hot target: 1 per image must reach the pixels
        np.testing.assert_allclose(totals, [1.0, 1.0], rtol=2e-3)
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # canonizer undone


def test_lrp_on_the_real_network_gives_finite_maps_on_faces(faces):
    spec = _spec_or_skip()
    model = load_model(spec)
    pixels = torch.from_numpy(faces[:2]).permute(0, 3, 1, 2).float() / 255
    result = compute_relevance(model, spec, pixels, method="epsilon_plus_flat")
    assert result.maps.shape == (2, 150, 150)
    assert np.isfinite(result.maps).all()
    assert (np.abs(result.maps).sum(axis=(1, 2)) > 0).all()


def test_a_head_finetuned_on_the_dlib_network_saves_and_loads(tmp_path):
    spec = _spec_or_skip()
    orl = DATASETS / "orl_faces"
    if not orl.is_dir():
        pytest.skip(f"ORL faces not available under {DATASETS}")
    items = [
        StimulusItem(f"s{p}/{i}.pgm", orl / f"s{p}" / f"{i}.pgm", {"identity": f"s{p}"})
        for p in range(1, 5)
        for i in range(1, 11)
    ]
    settings = FinetuneSettings(
        label_column="identity", group_column=None, max_epochs=40, patience=40, learning_rate=1e-2
    )
    result = finetune(spec, items, settings, device="cpu", progress=False)
    assert result.spec.num_classes == 4
    assert result.spec.architecture == "dlib_resnet29_head"  # a classifier on the descriptor
    assert result.spec.training["val_accuracy"] > 0.25  # chance: 1/4
    saved = save_checkpoint(tmp_path / "head.pt", result.model, result.spec)
    reloaded = load_model(saved)
    images = normalize(load_batch([item.path for item in items[:3]], spec.input_size).images, spec)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(images), result.model(images))
        # the trunk was frozen (train_last=1): the child's fc is still dlib's descriptor
        torch.testing.assert_close(
            reloaded.fc(reloaded.avgpool(reloaded.layers(reloaded.stem(images))).flatten(1)),
            load_model(spec)(images),
        )
