"""The three web applications as processes: how to prepare, serve and reach each one.

Only command lines live here (no Flask or Django import), so `mlapps serve`,
`mlapps demo` and the Flask/Django comparison start every app the same way.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys


@dataclasses.dataclass(frozen=True)
class AppSpec:
    name: str
    package: str
    framework: str
    port: int
    wsgi: str  # gunicorn application spec
    gunicorn_config: str  # python:module path of the app's gunicorn config
    dev_command: tuple[str, ...]  # '{port}' is filled in
    models: tuple[str, ...]  # registry names the app serves
    train_scenarios: tuple[str, ...]  # recipes that produce those models
    prepare_commands: tuple[tuple[str, ...], ...] = ()
    health_path: str = "/healthz"
    # Processes started beside the app by `mlapps demo` once it answers ('{url}' is filled in).
    companions: tuple[tuple[str, ...], ...] = ()
    # How `mlapps tokens` reaches the app's token store: "sqlalchemy" (common.auth) or a Django command.
    token_backend: str = "sqlalchemy"

    @property
    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def dev_argv(self, *, port: int, host: str = "127.0.0.1") -> list[str]:
        return [part.format(port=port, host=host, python=sys.executable) for part in self.dev_command]

    def prod_argv(self, *, port: int, host: str = "127.0.0.1") -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "-c", self.gunicorn_config,
            "--bind", f"{host}:{port}", self.wsgi,
        ]

    def companion_argv(self, *, url: str) -> list[list[str]]:
        return [[part.format(python=sys.executable, url=url) for part in command] for command in self.companions]

    def prepare_argv(self) -> list[list[str]]:
        return [[part.format(python=sys.executable) for part in command] for command in self.prepare_commands]


DJANGO_ADMIN = ("{python}", "-m", "django")
DJANGO_SETTINGS_DEV = "--settings=recommender_django.settings.development"

APPS: dict[str, AppSpec] = {
    "credit": AppSpec(
        name="credit",
        package="credit_flask",
        framework="Flask",
        port=5001,
        wsgi="credit_flask.wsgi:app",
        gunicorn_config="python:credit_flask.gunicorn_conf",
        dev_command=("{python}", "-m", "flask", "--app", "credit_flask.wsgi:app", "run", "--host", "{host}", "--port", "{port}"),
        models=("credit",),
        train_scenarios=("credit", "seed"),
        prepare_commands=(("{python}", "-m", "flask", "--app", "credit_flask.wsgi:app", "init-db"),),
    ),
    "maintenance": AppSpec(
        name="maintenance",
        package="maintenance_flask",
        framework="Flask",
        port=5002,
        wsgi="maintenance_flask.wsgi:app",
        gunicorn_config="python:maintenance_flask.gunicorn_conf",
        dev_command=("{python}", "-m", "flask", "--app", "maintenance_flask.wsgi:app", "run", "--host", "{host}", "--port", "{port}"),
        models=("maintenance-failure", "maintenance-rul"),
        train_scenarios=("maintenance",),
        prepare_commands=(("{python}", "-m", "flask", "--app", "maintenance_flask.wsgi:app", "init-db"),),
        companions=(
            ("{python}", "-m", "common.cli", "simulate", "maintenance", "--machines", "8", "--rate", "2", "--url", "{url}"),
        ),
    ),
    "recommender": AppSpec(
        name="recommender",
        package="recommender_django",
        framework="Django",
        port=8000,
        wsgi="recommender_django.wsgi:application",
        gunicorn_config="python:recommender_django.gunicorn_conf",
        dev_command=(*DJANGO_ADMIN, "runserver", "--noreload", DJANGO_SETTINGS_DEV, "{host}:{port}"),
        models=("recommender",),
        train_scenarios=("seed",),
        token_backend="django",
        prepare_commands=(
            (*DJANGO_ADMIN, "migrate", "--noinput", DJANGO_SETTINGS_DEV),
            (*DJANGO_ADMIN, "load_movielens", "--if-empty", DJANGO_SETTINGS_DEV),
            (*DJANGO_ADMIN, "train_recommender", "--if-missing", DJANGO_SETTINGS_DEV),
        ),
    ),
}


def get_app(name: str) -> AppSpec:
    try:
        return APPS[name]
    except KeyError:
        raise LookupError(f"unknown app {name!r}; choose from {', '.join(APPS)}") from None
