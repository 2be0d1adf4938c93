"""Fixtures for modelsvc unit tests: one torch thread, small random networks and images."""

import pytest
import torch

from tests.unit.modelsvc.helpers import write_images


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The test machine has 2 shared cores; OpenMP with 2 threads under contention is several
    # times slower than 1 thread.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def image_folder(tmp_path):
    """A folder with 10 small RGB PNGs (two colour classes) and a metadata CSV."""
    return write_images(tmp_path / "stimuli", n_images=10, size=24)
