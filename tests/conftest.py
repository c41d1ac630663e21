"""Shared fixtures. The corpus is read from ../shared/metatone-analysis, never copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("GESTURE_RNN_CORPUS", REPO.parent / "shared" / "metatone-analysis"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared Metatone corpus; tests that need it skip, with the reason, without it."""
    if not (CORPUS / "metadata" / "metatone-performance-information.csv").is_file():
        pytest.skip(f"the Metatone corpus is not at {CORPUS} (set GESTURE_RNN_CORPUS)")
    return CORPUS


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A real model file (1 x 8 LSTM, random weights) written without TensorFlow."""
    from tests.models import tiny_model_file

    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.h5")


@pytest.fixture
def listener():
    """A UDP socket standing in for Pd or SuperCollider (see tests/bridge_process.py)."""
    from tests.bridge_process import Listener

    listener = Listener()
    yield listener
    listener.close()
