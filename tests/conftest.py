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
