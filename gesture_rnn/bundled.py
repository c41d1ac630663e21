"""The bundled models by name: ``quartet``, ``trio``, ``duet`` wherever a model file is taken."""

from __future__ import annotations

from pathlib import Path

# name -> players in the ensemble, lead included; the file is models/<name>.h5 (runtime)
MODEL_NAMES = {"quartet": 4, "trio": 3, "duet": 2}
MODEL_HELP = "model file (.h5), or a bundled model by name: quartet (default), trio, duet"


def model_path(text: str | Path) -> Path:
    """The file for a model option: a bundled model's name, else a path (``~`` expanded).

    A file of that name in the current folder needs a path to be chosen: ``./trio``.
    """
    if isinstance(text, str) and text in MODEL_NAMES:
        from .runtime import bundled_path

        return bundled_path(MODEL_NAMES[text])
    return Path(text).expanduser()
