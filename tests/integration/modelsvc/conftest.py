"""Fixtures for modelsvc integration tests: one torch thread, generated demo faces."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # 2 shared cores: OpenMP with 2 threads under contention is several times slower.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
