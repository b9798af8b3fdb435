"""Shared test setup: quick mode, few threads, a private data cache."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("COURSE_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture()
def data_cache(tmp_path, monkeypatch):
    """An empty COURSE_DATA_DIR for tests that must not see any cached dataset."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"
