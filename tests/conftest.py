"""Shared test set-up: one torch thread (CI has 2 cores), offline, outputs under a temp dir."""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _private_sparse_policy(tmp_path, monkeypatch):
    """enable_sparse's measured decisions go to a per-test file, never to the user's machine cache."""
    monkeypatch.setenv("SPARSEBENCH_POLICY_FILE", str(tmp_path / "sparse_policy.json"))


@pytest.fixture
def out_dir(tmp_path, monkeypatch):
    """A private HARNESS_OUT for tests that write runs or results."""
    d = tmp_path / "out"
    monkeypatch.setenv("HARNESS_OUT", str(d))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return d


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One corpus cache (out/cache) for the session: token files are deterministic, so tests may share
    them; link it into an ``out_dir`` to skip rebuilding the corpus in every test."""
    return tmp_path_factory.mktemp("shared_cache")
