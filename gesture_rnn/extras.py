"""Optional extras (pyproject.toml): one clear message when one is missing.

``gesture-rnn train`` in an environment without TensorFlow should say what to install,
not fail deep inside with ``ModuleNotFoundError: No module named 'keras'``.
"""

from __future__ import annotations

import importlib.util

# extra -> {package it brings: the modules that package must make importable}
EXTRAS = {
    "train": {"TensorFlow": ("tensorflow", "keras"), "scikit-learn": ("sklearn",)},
    "plot": {"matplotlib": ("matplotlib",)},
    "link": {"aalink": ("aalink",)},
    "web": {"websockets": ("websockets",)},
}


class MissingExtraError(ImportError):
    """An optional extra that a command needs is not installed."""


def install_hint(extra: str) -> str:
    """The exact pip commands, in a checkout and from PyPI."""
    return f'pip install -e ".[{extra}]" in a checkout, or pip install "gesture-rnn[{extra}]"'


def require(extra: str, purpose: str, package: str | None = None) -> None:
    """Raise MissingExtraError (one line: which extra, the pip command) if ``package`` of
    ``extra`` (default: its first) cannot be imported. ``purpose`` starts the message,
    e.g. "gesture-rnn train"."""
    package = package or next(iter(EXTRAS[extra]))
    for module in EXTRAS[extra][package]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules
            found = False
        if not found:
            raise MissingExtraError(
                f"{purpose} needs {package}, from the optional extra [{extra}], and this "
                f"environment lacks {module}: {install_hint(extra)}"
            )
