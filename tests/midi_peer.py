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
import rtmidi


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client")
    parser.add_argument("--rate", type=float, default=0.0, help="messages a second (0: none)")
    parser.add_argument("--clock", action="store_true", help="send start, then clock pulses")
    parser.add_argument("--lead", type=int, help="send only this lead gesture (CC 20)")
    args = parser.parse_args()

    keys = mido.open_output("out", client_name=f"{args.client}-keys")
    # The synth is read by polling rtmidi's queue, as the bridge reads its inputs: a Python
    # callback on JACK's thread waits for the GIL, and a late cycle can cost messages.
    synth = rtmidi.MidiIn(
        rtapi=rtmidi.API_UNIX_JACK, name=f"{args.client}-synth", queue_size_limit=4096
    )
    synth.ignore_types(sysex=True, timing=False, active_sense=True)
    synth.open_virtual_port("in")

    def show_received() -> None:
        while (item := synth.get_message()) is not None:
            sys.stdout.write(" ".join(f"{b:02X}" for b in item[0]) + "\n")
        sys.stdout.flush()

    print("ready", flush=True)
    if args.rate <= 0:
        while True:
            show_received()
            time.sleep(0.001)
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
        show_received()
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main()
