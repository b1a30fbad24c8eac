"""Shared fixtures. Tests run on the CPU with tiny offline data; nothing is downloaded."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    from benchmarks.data import get_dataset

    return get_dataset("digits")
