"""The model's own subcommands of ``gesture-rnn``: thin wrappers over the library.

Each module adds its commands with ``register(commands)``; the program at the top,
``gesture_rnn_cli``, builds the parser from them and from ``corpus_index.cli`` and
``bridge.cli``. Nothing here imports those packages when it loads or registers its
commands (only ``generate --corpus`` opens a corpus index, inside the command). Heavy
imports (TensorFlow above all) happen inside the command functions that need them, so
``gesture-rnn --help`` and every other command start quickly.
"""
