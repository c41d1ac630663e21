"""A second, real Ableton Link peer for the tests and the benchmark (a process of its own).

    python tests/link_peer.py --tempo 90 [--start-stop] [--stopped]

Joins the Link session, listens for the bridge's OSC on a UDP port of its own and prints
one JSON line per event on stdout:

- ``{"port": P, "tempo": T}`` once, when ready;
- ``{"peers": N}`` whenever the number of peers changes;
- ``{"address": "/ensemble/tick", "args": [...], "beat": B, "tempo": T}`` for every OSC
  message, with this peer's beat read the moment the datagram arrived.

Commands on stdin, one a line: ``tempo BPM``, ``play``, ``stop``, ``jump BEATS`` (force the
session's beat forward or back), ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading

import aalink
from pythonosc.osc_message import OscMessage


def say(**fields) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def listen(sock: socket.socket, link) -> None:
    """A plain thread, so the beat is read as soon as a datagram arrives."""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        beat, tempo = link.beat, link.tempo
        message = OscMessage(data)
        say(address=message.address, args=list(message.params), beat=beat, tempo=tempo)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tempo", type=float, default=120.0)
    parser.add_argument("--quantum", type=float, default=4.0)
    parser.add_argument("--start-stop", action="store_true")
    parser.add_argument("--stopped", action="store_true", help="start stopped")
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    link = aalink.Link(args.tempo)  # takes the running loop
    link.quantum = args.quantum
    link.start_stop_sync_enabled = args.start_stop
    link.set_num_peers_callback(lambda n: say(peers=n))
    link.enabled = True
    if args.start_stop:
        link.playing = not args.stopped

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    threading.Thread(target=listen, args=(sock, link), daemon=True).start()
    say(port=sock.getsockname()[1], tempo=link.tempo)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        command = line[0]
        if command == "tempo":
            link.tempo = float(line[1])
        elif command == "play":
            link.playing = True
        elif command == "stop":
            link.playing = False
        elif command == "jump":
            link.force_beat(link.beat + float(line[1]))
        elif command == "quit":
            break
        say(done=command, beat=link.beat, tempo=link.tempo, playing=link.playing)
    link.enabled = False
    sock.close()


if __name__ == "__main__":
    asyncio.run(main())
