"""Zeroconf discovery: two real bridges advertise, a browser in another process finds
them, inside a private network namespace so no multicast leaves the machine."""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import BridgeConfig
from bridge.discovery import advertised_address

HERE = Path(__file__).resolve().parent
SETUP = "ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo"


def namespace_reason() -> str | None:
    """Why no private network namespace can be made here, or None."""
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", SETUP], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare cannot run: {error}"
    if done.returncode != 0:
        return f"no private network namespace (needs root and iproute2): {done.stderr.strip()}"
    return None


@pytest.mark.parametrize(
    "host, advertise, given, expected, says",
    [
        ("127.0.0.1", True, None, None, "only this computer"),
        ("127.0.0.1", True, "127.0.0.1", "127.0.0.1", ""),  # as given, loopback included
        ("192.168.1.20", True, None, "192.168.1.20", ""),
        ("192.168.1.20", False, None, None, "--no-advertise"),
        ("::1", True, None, None, "IPv4"),
    ],
)
def test_the_advertised_address_follows_host_and_is_never_unspecified(
    host, advertise, given, expected, says
):
    config = BridgeConfig(host=host, advertise=advertise, advertise_address=given)
    address, why = advertised_address(config)
    assert address == expected and says in why


def test_on_0000_one_address_of_the_network_is_advertised_never_0000():
    address, why = advertised_address(BridgeConfig(host="0.0.0.0"))
    assert address != "0.0.0.0"
    assert address is not None or "--advertise-address" in why


def test_an_advertise_address_not_of_this_computer_is_one_line(caplog):
    from bridge.discovery import NoDiscovery, start_discovery

    config = BridgeConfig(host="0.0.0.0", advertise_address="192.0.2.1")  # TEST-NET-1
    with caplog.at_level(logging.INFO, logger="bridge.discovery"):
        assert isinstance(start_discovery(config), NoDiscovery)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "192.0.2.1 is not an address of this computer" in lines[0]


def test_a_bad_advertise_address_is_one_line(tmp_path):
    from tests.bridge_process import run_bridge_once

    done = run_bridge_once("--advertise-address", "0.0.0.0")
    assert done.returncode == 2 and "--advertise-address" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_two_bridges_are_found_by_a_browser_and_say_goodbye(tiny_model, tmp_path):
    reason = namespace_reason()
    if reason is not None:
        pytest.skip(reason)
    bridge = [sys.executable, "-m", "gesture_rnn", "bridge", "--model", str(tiny_model),
              "--host", "0.0.0.0", "--advertise-address", "127.0.0.1"]  # fmt: skip
    script = " ".join(
        [
            SETUP + ";",
            f"{shlex.join(bridge)} --port 9100 >{tmp_path}/out1 2>{tmp_path}/err1 & B1=$!;",
            f"{shlex.join(bridge)} --port 9101 >{tmp_path}/out2 2>{tmp_path}/err2 & B2=$!;",
            f"{shlex.join([sys.executable, str(HERE / 'zeroconf_browser.py'), '25'])} $B1 $B2;",
            "rc=$?; kill $B1 $B2 2>/dev/null; wait $B1 $B2; exit $rc",
        ]
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE.parent,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errs = [(tmp_path / f"err{i}").read_text() for i in (1, 2)]
    assert done.returncode == 0, (done.stdout, done.stderr, errs)
    services = [line for line in lines if "type" in line]
    loggers = [s for s in services if s["type"] == "_osclogger._udp.local."]
    assert {s["port"] for s in loggers} == {9100, 9101}
    assert len({s["name"] for s in loggers}) == 2  # the second bridge took a new name
    assert len({s["type"] for s in services}) == 2  # and _osc._udp too
    for service in services:
        assert service["addresses"] == ["127.0.0.1"]  # exactly one IPv4 address
        assert service["properties"]  # a TXT record that is not empty
        assert service["server"].startswith("gesture-rnn-")  # a host name of our own
    removed = {line["removed"] for line in lines if "removed" in line}
    assert {s["name"] for s in services} <= removed  # goodbyes on exit
    for i in (1, 2):
        out = (tmp_path / f"out{i}").read_text()
        assert "apps found 1" in out, out  # the fake app, in the live view
        assert "Traceback" not in errs[i - 1]


HOLD_5353 = """
import socket, subprocess, sys
holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
holder.bind(("0.0.0.0", 5353))  # no SO_REUSEADDR: nobody else can bind it now
bridge = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ticks = 0
for line in bridge.stdout:
    ticks += line.startswith("tick")
    if ticks == 3:
        break
bridge.terminate()
out, err = bridge.communicate(timeout=20)
print(ticks)
print(err, file=sys.stderr)
sys.exit(bridge.returncode)
"""


def test_port_5353_taken_is_one_line_and_the_bridge_plays_on(tiny_model):
    reason = namespace_reason()
    if reason is not None:
        pytest.skip(reason)
    bridge = [sys.executable, "-m", "gesture_rnn", "bridge", "--model", str(tiny_model),
              "--host", "0.0.0.0", "--advertise-address", "127.0.0.1", "--port", "9100",
              "--period", "0.2"]  # fmt: skip
    holder = shlex.join([sys.executable, "-c", HOLD_5353, *bridge])
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"{SETUP}; {holder}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE.parent,
    )
    assert done.returncode == 0 and done.stdout.strip() == "3", (done.stdout, done.stderr)
    off = [line for line in done.stderr.splitlines() if "zeroconf discovery off" in line]
    assert len(off) == 1 and "Traceback" not in done.stderr


def test_without_zeroconf_the_bridge_starts_and_says_so_in_one_line(tiny_model, tmp_path):
    from tests.bridge_process import BridgeProcess

    hidden = tmp_path / "zeroconf"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('no zeroconf here')\n")
    bridge = BridgeProcess(
        "--model", tiny_model, "--advertise-address", "127.0.0.1", "--clock", "osc",
        env={"PYTHONPATH": f"{tmp_path}:{HERE.parent}"},
    )  # fmt: skip
    code, _, err = bridge.stop()
    assert code == 0
    lines = [line for line in err.splitlines() if "zeroconf" in line]
    assert len(lines) == 1 and "pip install 'gesture-rnn[zeroconf]'" in lines[0]
