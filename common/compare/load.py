"""Load generators: wrk when installed, else a multi-process keep-alive client on http.client."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common.compare.servers import HOST, REPO_ROOT, Endpoint


# --------------------------------------------------------------------------- load generators
@dataclasses.dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _lua_string(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return '"' + "".join(chr(b) if chr(b).isalnum() or chr(b) in " _-.,:/" else f"\\{b:03d}" for b in raw) + '"'


def wrk_script(endpoint: Endpoint) -> str:
    lines = [f"wrk.method = {_lua_string(endpoint.method)}"]
    if endpoint.body is not None:
        lines.append(f"wrk.body = {_lua_string(endpoint.body)}")
    for name, value in endpoint.request_headers().items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    return "\n".join(lines) + "\n"


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def parse_wrk_output(text: str) -> dict[str, float]:
    """requests, seconds, p50_ms, p99_ms and errors from `wrk --latency` output."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if not total:
        raise ValueError(f"unreadable wrk output:\n{text}")
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", text, flags=re.MULTILINE))
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return {
        "requests": float(total.group(1)),
        "seconds": _wrk_ms(total.group(2) + total.group(3)) / 1000.0,
        "p50_ms": _wrk_ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        "p99_ms": _wrk_ms(percentiles["99"]) if "99" in percentiles else float("nan"),
        "errors": float(errors),
    }


class WrkGenerator:
    name = "wrk"

    def __init__(self, *, executable: str, work_dir: Path) -> None:
        self.executable = executable
        self.work_dir = work_dir

    def __enter__(self) -> WrkGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, *, port: int, endpoint: Endpoint, concurrency: int, duration: float) -> LoadResult:
        script = self.work_dir / f"{endpoint.key.replace(':', '_')}.lua"
        script.write_text(wrk_script(endpoint))
        argv = [
            # wrk takes whole seconds
            self.executable, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--latency",
            "--timeout", "10s", "-s", str(script), f"http://{HOST}:{port}{endpoint.path}",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if completed.returncode != 0:
            raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
        parsed = parse_wrk_output(completed.stdout)
        return LoadResult(
            requests=int(parsed["requests"]), errors=int(parsed["errors"]), seconds=parsed["seconds"],
            p50_ms=parsed["p50_ms"], p99_ms=parsed["p99_ms"],
            generator_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        )


def _client_main() -> None:
    """A client process of `PythonGenerator` (`python -c "...; _client_main()"`), driven by JSON lines.

    Per job: connect, answer "armed", wait for the common start time, send
    requests until the duration is over, answer the latencies.
    """
    reader, writer = sys.stdin.buffer, sys.stdout.buffer

    def send(message: Any) -> None:
        writer.write(json.dumps(message).encode() + b"\n")
        writer.flush()

    send("ready")
    for line in reader:
        job = json.loads(line)
        if job is None:
            return
        job["body"] = None if job["body"] is None else job["body"].encode("latin-1")
        client = http.client.HTTPConnection(HOST, job["port"], timeout=10)
        with contextlib.suppress(OSError):
            client.connect()
        send("armed")
        start_at = json.loads(reader.readline())
        send(_client_job(client=client, start_at=start_at, **job))


def _client_job(
    *, client: http.client.HTTPConnection, port: int, method: str, path: str, body: bytes | None,
    headers: dict[str, str], start_at: float, duration: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    while time.monotonic() < start_at:
        time.sleep(min(0.002, max(0.0, start_at - time.monotonic())))
    cpu_started = time.process_time()
    end_at = start_at + duration
    started = time.monotonic()
    now = started
    while now < end_at:
        sent = time.perf_counter()
        try:
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
            if response.will_close:
                client.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            client.close()
        latencies.append(time.perf_counter() - sent)
        now = time.monotonic()
    client.close()
    return {
        "latencies": latencies, "errors": errors, "seconds": now - started,
        "cpu": time.process_time() - cpu_started,
    }


class PythonGenerator:
    """A keep-alive HTTP client in N processes (no GIL between connections), started once per run."""

    name = "python (multi-process http.client)"

    def __init__(self, *, processes: int) -> None:
        self.processes = processes
        self._workers: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> PythonGenerator:
        code = "import common.compare.load as c; c._client_main()"
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        for _ in range(self.processes):
            self._workers.append(
                subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 cwd=REPO_ROOT, env=env)
            )
        for worker in self._workers:
            if self._receive(worker) != "ready":
                raise RuntimeError("a load-generator process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                self._send(worker, None)
                worker.stdin.close()  # type: ignore[union-attr]
        for worker in self._workers:
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()
        self._workers.clear()

    @staticmethod
    def _send(worker: subprocess.Popen[bytes], message: Any) -> None:
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(message).encode() + b"\n")
        worker.stdin.flush()

    @staticmethod
    def _receive(worker: subprocess.Popen[bytes]) -> Any:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"a load-generator process ended (exit code {worker.poll()})")
        return json.loads(line)

    def run(self, *, port: int, endpoint: Endpoint, concurrency: int, duration: float) -> LoadResult:
        if concurrency > len(self._workers):
            raise ValueError(f"the client was started with {len(self._workers)} processes, not {concurrency}")
        import numpy as np

        job = {
            "port": port, "method": endpoint.method, "path": endpoint.path,
            "body": None if endpoint.body is None else endpoint.body.decode("latin-1"),
            "headers": endpoint.request_headers(), "duration": duration,
        }
        used = self._workers[:concurrency]
        for worker in used:
            self._send(worker, job)
        for worker in used:
            self._receive(worker)  # "armed": connected, waiting for the start
        start_at = time.monotonic() + 0.02  # CLOCK_MONOTONIC is shared by every process
        for worker in used:
            self._send(worker, start_at)
        results = [self._receive(worker) for worker in used]
        latencies = np.asarray([x for r in results for x in r["latencies"]], dtype=float) * 1000.0
        seconds = statistics.median(r["seconds"] for r in results)
        p50, p99 = (np.percentile(latencies, [50, 99]) if latencies.size else (float("nan"), float("nan")))
        return LoadResult(
            requests=int(latencies.size), errors=sum(r["errors"] for r in results), seconds=seconds,
            p50_ms=float(p50), p99_ms=float(p99), generator_cpu_s=sum(r["cpu"] for r in results),
        )


