"""``python -m gesture_rnn``: the ``gesture-rnn`` program, which sits above this package."""

import sys

from gesture_rnn_cli import main

sys.exit(main())
