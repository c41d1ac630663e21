"""Another JACK MIDI program for the tests: ``python -m tests.midi_peer CLIENT [options]``.

Opens ``CLIENT-keys:out`` (a keyboard or a DAW's clock, sending) and ``CLIENT-synth:in``
(a synth: every message it receives is printed as one line of hex bytes), prints
"ready", then sends until it is terminated. Run with ``JACK_DEFAULT_SERVER`` and
``MIDO_BACKEND`` set (tests/jack.py does).
"""

from __future__ import annotations

import argparse
import sys
import time

import mido


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client")
    parser.add_argument("--rate", type=float, default=0.0, help="messages a second (0: none)")
    parser.add_argument("--clock", action="store_true", help="send start, then clock pulses")
    parser.add_argument("--lead", type=int, help="send only this lead gesture (CC 20)")
    args = parser.parse_args()

    def show(message: mido.Message) -> None:
        sys.stdout.write(message.hex() + "\n")
        sys.stdout.flush()

    keys = mido.open_output("out", client_name=f"{args.client}-keys")
    synth = mido.open_input("in", client_name=f"{args.client}-synth", callback=show)
    print("ready", flush=True)
    if args.rate <= 0:
        while True:
            time.sleep(3600)
    if args.clock:
        keys.send(mido.Message("start"))
    interval = 1.0 / args.rate
    start = time.monotonic()
    n = 0
    while True:
        if args.clock:
            message = mido.Message("clock")
        elif args.lead is not None:
            message = mido.Message("control_change", control=20, value=args.lead)
        elif n % 50 == 0:  # now and then a lead gesture (CC 20, 0-8)
            message = mido.Message("control_change", control=20, value=(n // 50) % 9)
        else:  # mostly the mod wheel, which the bridge ignores
            message = mido.Message("control_change", control=1, value=n % 128)
        keys.send(message)
        n += 1
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    del synth


if __name__ == "__main__":
    main()
