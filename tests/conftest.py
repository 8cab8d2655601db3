"""Shared fixtures: a private run store and dataset folder per test session."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Same thread count in every test (CPU results depend on it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(min(2, n))
    yield
    torch.set_num_threads(n)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    d = tmp_path / "runs"
    monkeypatch.setenv("ADVDIST_RUNS", str(d))
    return d


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: one intra-op thread is fastest and immune to oversubscription on shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
