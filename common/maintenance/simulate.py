"""`mlapps simulate maintenance`: stream simulated machine telemetry to a running app.

    mlapps simulate maintenance --machines 8 --rate 2 --url http://127.0.0.1:5002

Each machine (see `common.maintenance.fleet_sim`) first sends `--backfill`
past readings in one batch (so charts and the engine windows have history),
then one reading per tick, `--rate` readings per second per machine, to
`POST /api/v1/machines/{id}/readings`.  Some machines drift toward heat,
power or overstrain failure conditions and some engines are late in life, so
the dashboard shows warnings and alerts within a minute.  Stops after
`--count` live readings per machine (0: until interrupted).  Connection errors
are reported and retried on the next tick; the app may restart meanwhile.

Ingestion needs an API token: `--token`, else MLAPPS_SIMULATE_TOKEN, else (an
app on this machine, as in `mlapps demo`) a token named "mlapps-simulate" is
created in the app's own database (the same settings as `mlapps tokens create`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Any

import requests

from common.maintenance.fleet_sim import SimulatedMachine, fleet_create

READINGS_PATH = "/api/v1/machines/{machine_id}/readings"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", choices=["maintenance"], help="what to simulate (the maintenance app's machines)")
    parser.add_argument("--machines", type=int, default=8, help="number of simulated machines (default 8)")
    parser.add_argument("--rate", type=float, default=1.0, help="readings per second per machine (default 1)")
    parser.add_argument("--url", default="http://127.0.0.1:5002", help="base URL of the maintenance app")
    parser.add_argument("--count", type=int, default=0, help="live readings per machine, then stop (0: forever)")
    parser.add_argument("--backfill", type=int, default=60, help="past readings per machine sent first (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefix", default="machine", help="machine id prefix (ids are PREFIX-01, PREFIX-02, ...)")
    parser.add_argument("--token", default=os.environ.get("MLAPPS_SIMULATE_TOKEN"),
                        help="API token for ingestion (env MLAPPS_SIMULATE_TOKEN; default: create one in the "
                        "local maintenance database)")
    parser.add_argument("--quiet", action="store_true")


class TelemetryClient:
    """Posts readings to the app; counts what was stored and what alerts were raised."""

    def __init__(self, *, url: str, token: str | None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "mlapps-simulate"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.sent = self.stored = self.alerts = self.failures = 0
        self.last_error: str | None = None

    def readings_send(self, *, machine_id: str, readings: list[dict[str, Any]]) -> bool:
        self.sent += len(readings)
        try:
            response = self.session.post(self.url + READINGS_PATH.format(machine_id=machine_id),
                                         json=readings, timeout=self.timeout)
        except requests.RequestException as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if response.status_code >= 400:
            self.failures += 1
            self.last_error = f"HTTP {response.status_code}: {response.text[:300]}"
            return False
        body = response.json()
        self.stored += int(body.get("stored", 0))
        self.alerts += int(body.get("alerts_raised", 0))
        return True

    def wait_until_up(self, *, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.session.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.5)
        return False


def fleet_backfill(*, client: TelemetryClient, fleet: list[SimulatedMachine], readings: int,
                   interval: dt.timedelta, now: dt.datetime) -> None:
    """Send `readings` past readings per machine, one batch each, ending one interval before `now`."""
    if readings <= 0:
        return
    for machine in fleet:
        batch = [machine.next_reading(timestamp=now - interval * (readings - i)) for i in range(readings)]
        client.readings_send(machine_id=machine.machine_id, readings=batch)


def fleet_stream(*, client: TelemetryClient, fleet: list[SimulatedMachine], rate: float, count: int,
                 quiet: bool = False) -> int:
    """One reading per machine per tick at `rate` ticks per second; returns the ticks sent."""
    interval = 1.0 / rate
    started = time.monotonic()
    tick = 0
    last_report = started
    while count <= 0 or tick < count:
        now = dt.datetime.now(dt.UTC)
        for machine in fleet:
            client.readings_send(machine_id=machine.machine_id, readings=[machine.next_reading(timestamp=now)])
        tick += 1
        if not quiet and time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            _report(client)
        delay = started + tick * interval - time.monotonic()
        if delay > 0 and (count <= 0 or tick < count):
            time.sleep(delay)
    return tick


def _report(client: TelemetryClient) -> None:
    line = f"[simulate] sent {client.sent}, stored {client.stored}, alerts raised {client.alerts}"
    if client.failures:
        line += f", {client.failures} failed requests (last: {client.last_error})"
    print(line, flush=True)


def local_token_create() -> str:
    """A token in the local maintenance database (where `mlapps tokens create maintenance` puts them)."""
    from common.auth import TokenStore
    from common.db import engine_for_app

    engine = engine_for_app("maintenance")
    try:
        return TokenStore(engine).token_create(name="mlapps-simulate")
    finally:
        engine.dispose()


def run_command(args: argparse.Namespace) -> int:
    if args.machines < 1 or args.rate <= 0:
        print("mlapps simulate: --machines must be >= 1 and --rate > 0", file=sys.stderr)
        return 2
    token = args.token
    if not token:
        try:
            token = local_token_create()
        except Exception as exc:  # noqa: BLE001 (any database problem: say what to do instead)
            print(f"mlapps simulate: no --token given and no local token could be made ({type(exc).__name__}: "
                  f"{exc}); create one with `mlapps tokens create maintenance NAME` and pass --token",
                  file=sys.stderr)
            return 2
        if not args.quiet:
            print("[simulate] created API token 'mlapps-simulate' in the local maintenance database", flush=True)
    client = TelemetryClient(url=args.url, token=token)
    if not client.wait_until_up():
        print(f"mlapps simulate: {args.url} did not answer /healthz", file=sys.stderr)
        return 1
    fleet = fleet_create(machines=args.machines, seed=args.seed, prefix=args.prefix)
    interval = dt.timedelta(seconds=1.0 / args.rate)
    if not args.quiet:
        print(f"[simulate] {args.machines} machines -> {args.url} at {args.rate:g} readings/s each "
              f"({', '.join(f'{m.machine_id}:{m.scenario}' for m in fleet)})", flush=True)
    try:
        fleet_backfill(client=client, fleet=fleet, readings=args.backfill, interval=interval,
                       now=dt.datetime.now(dt.UTC))
        fleet_stream(client=client, fleet=fleet, rate=args.rate, count=args.count, quiet=args.quiet)
    except KeyboardInterrupt:
        pass
    if not args.quiet or client.failures:
        _report(client)
    return 0 if client.stored else 1
