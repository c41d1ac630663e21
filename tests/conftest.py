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


@pytest.fixture(scope="session")
def jack_server():
    """A JACK server of this test session's own (``jackd -n NAME -d dummy``): this process
    and every bridge and peer it starts talk to it (JACK_DEFAULT_SERVER, MIDO_BACKEND in
    ``jack_server.env``). Skips, with the reason, where JACK is missing or will not start."""
    from tests.jack import JACK_BACKEND, JackServer, JackUnavailable

    try:
        server = JackServer()
    except JackUnavailable as error:
        pytest.skip(str(error))
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND")}
    os.environ.update(JACK_DEFAULT_SERVER=server.name, MIDO_BACKEND=JACK_BACKEND)
    import mido

    mido.set_backend(JACK_BACKEND)
    try:
        yield server
    finally:
        server.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
