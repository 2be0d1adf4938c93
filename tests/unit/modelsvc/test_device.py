"""Device choice and batched execution with fake out-of-memory errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from modelsvc.device import pick_device, run_batched


def test_pick_device_uses_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'preferred' parameter of pick_device"):
        pick_device("tpu-9000")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_cuda_is_an_error():
    with pytest.raises(ValueError, match=r"torch\.cuda\.is_available"):
        pick_device("cuda")


def test_importing_modelsvc_never_initialises_cuda():
    code = (
        "import importlib, pkgutil, torch, modelsvc\n"
        "for m in pkgutil.walk_packages(modelsvc.__path__, 'modelsvc.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "assert not torch.cuda.is_initialized()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_batches_are_padded_to_a_constant_size_and_trimmed():
    sizes = []

    def square(indices):
        sizes.append(len(indices))
        values = np.array(indices, dtype=float)
        return {"square": values**2, "pair": (torch.tensor(indices), values)}

    run = run_batched(square, n_items=10, batch_size=4)
    assert sizes == [4, 4, 4]
    np.testing.assert_array_equal(run.value["square"], np.arange(10) ** 2)
    assert run.value["pair"][0].tolist() == list(range(10))
    assert (run.batch_size, run.oom_retries) == (4, 0)
    sizes.clear()
    assert run_batched(square, 10, 4, pad=False).value["square"].shape == (10,)
    assert sizes == [4, 4, 2]


def test_out_of_memory_halves_the_batch_and_retries():
    calls = []

    def fragile(indices):
        calls.append(len(indices))
        if len(indices) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")
        return np.array(indices) * 10

    run = run_batched(fragile, n_items=7, batch_size=8)
    np.testing.assert_array_equal(run.value, np.arange(7) * 10)
    assert calls[:3] == [8, 4, 2]
    assert (run.batch_size, run.oom_retries) == (2, 2)


def test_out_of_memory_at_batch_size_one_propagates():
    def always_fails(indices):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_batched(always_fails, n_items=3, batch_size=2)


def test_other_errors_are_not_retried():
    def broken(indices):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_batched(broken, 3, 2)
