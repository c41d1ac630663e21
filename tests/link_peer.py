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
import struct
import sys
import threading
import time

import aalink
from pythonosc.osc_message import OscMessage

# The kernel's receive time stamp: Linux's SO_TIMESTAMPNS (Python does not name it).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
TIMESPEC = struct.Struct("@qq")  # its struct timespec (64-bit)


def say(**fields) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def listen(sock: socket.socket, link, only: str | None) -> None:
    """A plain thread, so the beat is read as soon as a datagram arrives. On Linux the
    kernel stamps each datagram as it is sent (loopback), and the beat is taken back to
    that moment, so how late this process woke does not count."""
    stamped = SO_TIMESTAMPNS is not None
    if stamped:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(TIMESPEC.size))
        except OSError:
            return
        beat, tempo, now = link.beat, link.tempo, time.time()
        for level, kind, value in ancillary if stamped else ():
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
                beat -= (now - (seconds + nanoseconds * 1e-9)) * tempo / 60.0
        message = OscMessage(data)
        if only is not None and message.address != only:
            continue
        say(address=message.address, args=list(message.params), beat=beat, tempo=tempo)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tempo", type=float, default=120.0)
    parser.add_argument("--quantum", type=float, default=4.0)
    parser.add_argument("--start-stop", action="store_true")
    parser.add_argument("--stopped", action="store_true", help="start stopped")
    parser.add_argument("--only", metavar="ADDRESS", help="report only this OSC address")
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
    threading.Thread(target=listen, args=(sock, link, args.only), daemon=True).start()
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
