"""`mlapps demo` (what `make demo` runs): trains what is missing, serves, stops cleanly on Ctrl-C."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.support.servers import free_port


def run_demo_until_ready(*, offset: int, env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "demo", "--apps", "credit", "--quick", "--port-offset", str(offset)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if "Press Ctrl-C" in line:
            return process, seen
    process.kill()
    pytest.fail("demo did not start:\n" + "".join(seen))


def stop_with_ctrl_c(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def test_demo_trains_once_serves_and_stops_cleanly(isolated_settings):
    env = {**os.environ, "MLAPPS_MODE": "development"}
    offset = free_port() - 5001
    url = f"http://127.0.0.1:{5001 + offset}"

    process, first = run_demo_until_ready(offset=offset, env=env)
    try:
        assert any(url in line for line in first), "the demo prints each app's URL"
        assert any("training missing models" in line for line in first)
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            assert response.status == 200
    finally:
        assert stop_with_ctrl_c(process) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/healthz", timeout=3)

    started = time.monotonic()
    process, second = run_demo_until_ready(offset=offset, env=env)
    try:
        assert any("models present" in line for line in second), "a second demo reuses the trained models"
        assert not any("training missing models" in line for line in second)
    finally:
        assert stop_with_ctrl_c(process) == 0
    assert time.monotonic() - started < 120
