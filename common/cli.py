"""`mlapps`: the command line of the project (data, models, training, serving, demo)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence

from common.training import RECIPES, format_table

# Subcommands contributed by scenario modules: each module defines
# `configure_parser(parser)` and `run_command(args) -> int`.
EXTENSION_COMMANDS = {
    "simulate": ("common.maintenance.simulate", "stream simulated telemetry to a running app"),
    "compare": ("common.compare", "measure the Flask and Django deployments side by side"),
}


# --------------------------------------------------------------------------- data
def cmd_data(args: argparse.Namespace) -> int:
    from common.datasets import get_dataset, list_datasets, load_dataset, resolve_files, where_from

    if args.data_command == "list":
        rows = [
            {"name": s.name, "source now": where_from(s), "licence": s.licence.split(";")[0][:40], "title": s.title[:60]}
            for s in list_datasets()
        ]
        print(format_table(rows))
        return 0
    spec = get_dataset(args.name)
    if args.data_command == "fetch":
        if spec.is_remote:
            paths = resolve_files(spec)
            for name, path in paths.items():
                print(f"{name}: {path}")
        frames = load_dataset(spec.name)
        print(format_table([{"frame": k, "rows": len(v), "columns": len(v.columns)} for k, v in frames.items()]))
        return 0
    info = spec.describe() | {"source_now": where_from(spec)}
    print(json.dumps(info, indent=2))
    return 0


# --------------------------------------------------------------------------- models
def cmd_models(args: argparse.Namespace) -> int:
    from common.registry import registry_from_settings

    registry = registry_from_settings()
    if args.models_command == "list":
        rows = []
        for name in registry.names():
            current = registry.current_version(name)
            for version in registry.versions(name):
                meta = version.metadata
                rows.append(
                    {
                        "model": name,
                        "version": version.version,
                        "current": "*" if version.version == current else "",
                        "created": meta.get("created", ""),
                        "algorithm": meta.get("algorithm", ""),
                        "dataset": (meta.get("training_data") or {}).get("dataset", ""),
                        "headline": _headline_metric(meta),
                    }
                )
        print(format_table(rows) if rows else f"no models in {registry.root}; run `mlapps train all`")
        return 0
    if args.models_command == "show":
        print(json.dumps(registry.get(args.ref).metadata, indent=2))
        return 0
    if args.models_command == "promote":
        version = registry.promote(args.name, args.version)
        print(f"{version.ref} is now current")
        return 0
    version = registry.rollback(args.name)
    print(f"rolled back: {version.ref} is now current")
    return 0


def _headline_metric(metadata: dict) -> str:
    metrics = metadata.get("metrics") or {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            return f"{key}={value:.4g}"
    return ""


# --------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from common.registry import registry_from_settings
    from common.training import TrainOptions, available_scenarios, run_training

    scenarios = available_scenarios() if args.scenario == "all" else [args.scenario]
    extra = dict(item.split("=", 1) for item in args.set or [])
    options = TrainOptions(
        dataset=args.dataset, algorithm=args.algorithm, seed=args.seed, promote=not args.no_promote,
        quick=args.quick, csv=args.csv, target=args.target, bad_value=args.bad_value, extra=extra,
    )
    registry = registry_from_settings()
    for scenario in scenarios:
        result = run_training(scenario=scenario, options=options, registry=registry)
        print(f"\n== {scenario}: {', '.join(v.ref for v in result.versions)}")
        print(format_table(result.metrics_rows))
    return 0


# --------------------------------------------------------------------------- serve / demo
def cmd_serve(args: argparse.Namespace) -> int:
    from common.apps import get_app

    app = get_app(args.app)
    port = args.port or app.port
    argv = app.prod_argv(port=port, host=args.host) if args.prod else app.dev_argv(port=port, host=args.host)
    print(f"serving {app.name} ({app.framework}, {'gunicorn' if args.prod else 'development server'}) "
          f"on http://{args.host}:{port}/", flush=True)
    os.execv(argv[0], argv)
    return 0  # not reached


def _wait_healthy(url: str, *, process: subprocess.Popen, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def cmd_demo(args: argparse.Namespace) -> int:
    from common.apps import APPS
    from common.registry import registry_from_settings
    from common.training import TrainOptions, run_training

    apps = [app for app in APPS.values() if app.installed and (not args.apps or app.name in args.apps)]
    if not apps:
        print("no app is installed yet", file=sys.stderr)
        return 1
    registry = registry_from_settings()
    trained: set[str] = set()
    for app in apps:
        for scenario in app.train_scenarios:
            if scenario in trained or scenario not in RECIPES:
                continue
            trained.add(scenario)
            recipe_models = importlib.import_module(RECIPES[scenario]).RECIPE.models
            if all(registry.current_version(m) for m in recipe_models):
                print(f"[demo] {scenario}: models present ({', '.join(recipe_models)})", flush=True)
                continue
            print(f"[demo] {scenario}: training missing models on embedded data...", flush=True)
            result = run_training(scenario=scenario, options=TrainOptions(quick=args.quick), registry=registry)
            print(format_table(result.metrics_rows), flush=True)
    for app in apps:
        for argv in app.prepare_argv():
            print(f"[demo] {app.name}: {' '.join(argv[1:])}", flush=True)
            subprocess.run(argv, check=True)

    processes: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        urls = []
        for app in apps:
            port = app.port + args.port_offset
            argv = app.prod_argv(port=port) if args.prod else app.dev_argv(port=port)
            processes.append(subprocess.Popen(argv))
            urls.append((app, f"http://127.0.0.1:{port}"))
        for app, url in urls:
            if not _wait_healthy(url + app.health_path, process=processes[apps.index(app)]):
                print(f"[demo] {app.name} did not become healthy", file=sys.stderr)
                return 1
            for argv in app.companion_argv(url=url):
                processes.append(subprocess.Popen(argv))
        print("\nmlapps demo is running:", flush=True)
        for app, url in urls:
            print(f"  {app.name:12s} {app.framework:7s} {url}/", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while all(p.poll() is None for p in processes[: len(apps)]):
            time.sleep(0.5)
        print("[demo] a server stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n[demo] stopping...", flush=True)
        return 0
    finally:
        stop_all()


# --------------------------------------------------------------------------- tokens
def cmd_tokens(args: argparse.Namespace) -> int:
    from common.apps import get_app

    app = get_app(args.app)
    if app.token_backend == "django":
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "recommender_django.settings.development")
        argv = [sys.executable, "-m", "django", "api_token", args.tokens_command, *( [args.name] if args.name else [])]
        return subprocess.call([*argv, f"--settings={settings_module}"])
    from common.auth import TokenStore
    from common.db import engine_for_app

    store = TokenStore(engine_for_app(args.app))
    if args.tokens_command == "create":
        print(store.token_create(name=args.name))
    elif args.tokens_command == "revoke":
        count = store.token_revoke(name=args.name)
        print(f"revoked {count} token(s) of {args.name}")
        return 0 if count else 1
    else:
        print(format_table(store.token_list()))
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlapps", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="dataset catalog, download and cache")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    data_sub.add_parser("list", help="each dataset and where it would come from right now")
    data_sub.add_parser("fetch", help="fetch (cache -> mirror -> download) and verify a dataset").add_argument("name")
    data_sub.add_parser("info", help="catalog entry of a dataset").add_argument("name")
    data.set_defaults(handler=cmd_data)

    models = sub.add_parser("models", help="the versioned model registry")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="every stored version")
    models_sub.add_parser("show", help="metadata of NAME or NAME@VERSION").add_argument("ref")
    promote = models_sub.add_parser("promote", help="make VERSION the current one")
    promote.add_argument("name")
    promote.add_argument("version")
    models_sub.add_parser("rollback", help="go back to the previously current version").add_argument("name")
    models.set_defaults(handler=cmd_models)

    train = sub.add_parser("train", help="train a scenario's models and register them")
    train.add_argument("scenario", help=f"one of {', '.join(RECIPES)} or 'all'")
    train.add_argument("--dataset")
    train.add_argument("--algorithm")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--no-promote", action="store_true", help="register without making it current")
    train.add_argument("--quick", action="store_true", help="lighter evaluation (for demos and tests)")
    train.add_argument("--csv", help="train on your own CSV file (credit)")
    train.add_argument("--target", help="target column of --csv")
    train.add_argument("--bad-value", help="value of --target that means bad/positive")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="recipe-specific option")
    train.set_defaults(handler=cmd_train)

    serve = sub.add_parser("serve", help="serve one app")
    serve.add_argument("app", choices=["credit", "maintenance", "recommender"])
    serve.add_argument("--port", type=int)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--prod", action="store_true", help="gunicorn with the app's production config")
    serve.set_defaults(handler=cmd_serve)

    demo = sub.add_parser("demo", help="train what is missing, prepare databases, start every app")
    demo.add_argument("--apps", nargs="*", help="only these apps")
    demo.add_argument("--prod", action="store_true", help="gunicorn instead of development servers")
    demo.add_argument("--quick", action="store_true", help="lighter training evaluation")
    demo.add_argument("--port-offset", type=int, default=0, help="added to every app's usual port")
    demo.set_defaults(handler=cmd_demo)

    tokens = sub.add_parser("tokens", help="API tokens of an app (stored hashed)")
    tokens.add_argument("tokens_command", choices=["create", "revoke", "list"])
    tokens.add_argument("app", choices=["credit", "maintenance", "recommender"])
    tokens.add_argument("name", nargs="?", help="who the token is for")
    tokens.set_defaults(handler=cmd_tokens)

    for name, (module_name, help_text) in EXTENSION_COMMANDS.items():
        if importlib.util.find_spec(module_name.rsplit(".", 1)[0]) is None:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        command = sub.add_parser(name, help=help_text)
        module.configure_parser(command)
        command.set_defaults(handler=module.run_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tokens" and args.tokens_command in ("create", "revoke") and not args.name:
        parser.error(f"tokens {args.tokens_command} needs a NAME")
    try:
        return args.handler(args)
    except (LookupError, RuntimeError, ValueError) as exc:
        print(f"mlapps: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
