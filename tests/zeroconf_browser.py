"""A zeroconf browser in its own process, standing in for the Metatone apps.

Usage: python zeroconf_browser.py SECONDS PID...  (the bridges' process ids)

Advertises a fake ``_metatoneapp._udp`` app, waits until each bridge's ``_osclogger._udp``
and ``_osc._udp`` services resolve, prints one JSON line per service, then stops the
bridges (SIGTERM) and prints one JSON line per goodbye. Exit code 1 on a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

TYPES = ["_osclogger._udp.local.", "_osc._udp.local."]


def main() -> int:
    seconds, pids = float(sys.argv[1]), [int(p) for p in sys.argv[2:]]
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    found: dict[str, dict] = {}
    removed: set[str] = set()
    changed = threading.Condition()

    def on_change(zeroconf, service_type, name, state_change):
        with changed:
            if state_change is ServiceStateChange.Removed:
                removed.add(name)
                print(json.dumps({"removed": name}), flush=True)
            elif name not in found:
                info = zeroconf.get_service_info(service_type, name, timeout=3000)
                if info is not None:
                    found[name] = {
                        "type": service_type,
                        "name": name,
                        "addresses": info.parsed_addresses(),
                        "port": info.port,
                        "server": info.server,
                        "properties": {
                            k.decode(): (v or b"").decode() for k, v in info.properties.items()
                        },
                    }
                    print(json.dumps(found[name]), flush=True)
            changed.notify_all()

    zc.register_service(
        ServiceInfo(
            "_metatoneapp._udp.local.",
            "fake-ipad._metatoneapp._udp.local.",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=51200,
            properties={"app": "test"},
            server="fake-ipad.local.",
        )
    )
    browsers = [ServiceBrowser(zc, kind, handlers=[on_change]) for kind in TYPES]
    end = time.monotonic() + seconds
    try:
        with changed:
            while len(found) < len(TYPES) * len(pids):
                if not changed.wait(timeout=max(0.0, end - time.monotonic())):
                    print(json.dumps({"timeout": "advertisements", "found": list(found)}))
                    return 1
        time.sleep(2.5)  # a tick or two, so the bridges' live view shows the fake app
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        with changed:
            while not set(found) <= removed:
                if not changed.wait(timeout=max(0.0, end - time.monotonic())):
                    print(json.dumps({"timeout": "goodbyes", "removed": sorted(removed)}))
                    return 1
        return 0
    finally:
        for browser in browsers:
            browser.cancel()
        zc.close()


if __name__ == "__main__":
    sys.exit(main())
