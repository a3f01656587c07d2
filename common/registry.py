"""Versioned model registry: immutable `NAME/VERSION/` folders with checksummed artifacts.

Layout of the store (setting `MLAPPS_MODEL_STORE_DIR`, default `models/`)::

    models/credit/
        1/ artifact.joblib  metadata.json  [array files *.npy]
        2/ ...
        current          <- the promoted version, e.g. "2" (replaced atomically)
        history.jsonl    <- every promotion, newest last (rollback walks it back)

A version folder is written under a hidden temporary name and renamed into
place, so a crash mid-save never leaves a visible version.  Loading checks the
sha256 of every file before deserialising anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

ARTIFACT_FILE = "artifact.joblib"
METADATA_FILE = "metadata.json"
CURRENT_FILE = "current"
HISTORY_FILE = "history.jsonl"
TRACKED_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "scikit-surprise", "joblib")
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class RegistryError(RuntimeError):
    """Base class of registry failures."""


class ModelNotFoundError(RegistryError, LookupError):
    pass


class ArtifactIntegrityError(RegistryError):
    """A stored file does not match the checksum recorded when it was saved."""


class LibraryVersionWarning(UserWarning):
    """The artifact was saved with other library versions than the ones installed."""


def sha256_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {}
    for library in TRACKED_LIBRARIES:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    """A stored version: its folder and its metadata (nothing deserialised yet)."""

    name: str
    version: str
    path: Path
    metadata: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A verified, deserialised version: the artifact plus memory-mapped arrays."""

    name: str
    version: str
    artifact: Any
    metadata: dict[str, Any]
    arrays: Mapping[str, np.ndarray]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class ModelRegistry:
    """A folder of named, versioned, immutable models with a promotable `current` alias."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- writing ---------------------------------------------------------------------------
    def save(
        self,
        *,
        name: str,
        artifact: Any,
        metadata: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray] | None = None,
        promote: bool = True,
    ) -> ModelVersion:
        """Store a new immutable version and (by default) promote it to `current`.

        `metadata` carries the algorithm, parameters, metrics, evaluation protocol,
        training-data fingerprint and input signature; the registry adds name,
        version, creation time, library versions and a sha256 for every file.
        `arrays` are saved as `.npy` files that `load` memory-maps, so large
        matrices are shared between worker processes instead of copied.
        """
        if not _NAME_PATTERN.match(name):
            raise ValueError(f"invalid model name {name!r}: use lowercase letters, digits, '_', '-', '.'")
        model_dir = self.root / name
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
        try:
            files: dict[str, str] = {}
            artifact_path = staging / ARTIFACT_FILE
            joblib.dump(artifact, artifact_path)
            files[ARTIFACT_FILE] = sha256_file(artifact_path)
            for array_name, array in (arrays or {}).items():
                if not re.match(r"^[a-zA-Z0-9_]+$", array_name):
                    raise ValueError(f"invalid array name {array_name!r}")
                array_path = staging / f"{array_name}.npy"
                np.save(array_path, np.ascontiguousarray(array), allow_pickle=False)
                files[array_path.name] = sha256_file(array_path)
            for path in staging.iterdir():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            version = self._install(
                staging=staging, model_dir=model_dir, metadata=metadata, files=files
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        stored = self.get(name, version)
        if promote:
            self.promote(name, version)
        return stored

    def _install(
        self, *, staging: Path, model_dir: Path, metadata: Mapping[str, Any], files: dict[str, str]
    ) -> str:
        """Pick the next version number and rename the staging folder onto it."""
        while True:
            version = str(max((int(v) for v in self._version_names(name=model_dir.name)), default=0) + 1)
            full_metadata = {
                **dict(metadata),
                "name": model_dir.name,
                "version": version,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "library_versions": library_versions(),
                "files": files,
                "artifact_sha256": files[ARTIFACT_FILE],
            }
            (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, default=_json_default))
            target = model_dir / version
            try:
                # mkdir is the atomic claim of the number; rename then fills it in one step.
                target.mkdir()
            except FileExistsError:
                continue
            os.rename(staging, target)
            _fsync_dir(model_dir)
            return version

    def promote(self, name: str, version: str) -> ModelVersion:
        """Point `current` at `version` (atomically) and record it in the history."""
        stored = self.get(name, version)
        model_dir = self.root / name
        _write_bytes_atomic(model_dir / CURRENT_FILE, f"{stored.version}\n".encode())
        with open(model_dir / HISTORY_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"version": stored.version, "at": time.time()}) + "\n")
        return stored

    def rollback(self, name: str) -> ModelVersion:
        """Promote the version that was current before the present one (history is a stack)."""
        history = self._history(name)
        current = self.current_version(name)
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise RegistryError(f"{name} has no earlier promoted version to roll back to")
        previous = self.get(name, history[-1])
        _write_bytes_atomic(self.root / name / CURRENT_FILE, f"{previous.version}\n".encode())
        lines = "".join(json.dumps({"version": v}) + "\n" for v in history)
        _write_bytes_atomic(self.root / name / HISTORY_FILE, lines.encode())
        return previous

    # -- reading ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _version_names(self, *, name: str) -> list[str]:
        model_dir = self.root / name
        if not model_dir.exists():
            return []
        return [p.name for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]

    def versions(self, name: str) -> list[ModelVersion]:
        numbers = sorted(self._version_names(name=name), key=int)
        return [self.get(name, v) for v in numbers if (self.root / name / v / METADATA_FILE).exists()]

    def current_version(self, name: str) -> str | None:
        try:
            return (self.root / name / CURRENT_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def current_stamp(self, name: str) -> tuple[int, int] | None:
        """A cheap fingerprint of the `current` alias (one stat call): changes on every promotion."""
        try:
            stat = os.stat(self.root / name / CURRENT_FILE)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns)

    def _history(self, name: str) -> list[str]:
        try:
            lines = (self.root / name / HISTORY_FILE).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line)["version"] for line in lines if line.strip()]

    def resolve(self, ref: str) -> tuple[str, str]:
        """`NAME` or `NAME@VERSION` -> (name, version); `NAME` means the current version."""
        name, _, version = ref.partition("@")
        if not version:
            version = self.current_version(name) or ""
            if not version:
                raise ModelNotFoundError(
                    f"model {name!r} has no current version in {self.root}: train it with `mlapps train`"
                )
        return name, version

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        if version is None:
            name, version = self.resolve(name)
        path = self.root / name / str(version)
        try:
            metadata = json.loads((path / METADATA_FILE).read_text())
        except FileNotFoundError:
            raise ModelNotFoundError(f"model {name}@{version} not found in {self.root}") from None
        return ModelVersion(name=name, version=str(version), path=path, metadata=metadata)

    def load(self, name: str, version: str | None = None) -> LoadedModel:
        """Verify every file's sha256, then deserialise the artifact and memory-map the arrays."""
        stored = self.get(name, version)
        expected: dict[str, str] = stored.metadata.get("files") or {
            ARTIFACT_FILE: stored.metadata["artifact_sha256"]
        }
        for file_name, checksum in expected.items():
            path = stored.path / file_name
            if not path.exists():
                raise ArtifactIntegrityError(f"{stored.ref}: {file_name} is missing")
            actual = sha256_file(path)
            if actual != checksum:
                raise ArtifactIntegrityError(
                    f"{stored.ref}: {file_name} has sha256 {actual[:12]}..., expected {checksum[:12]}...; "
                    "the file was changed after it was saved and will not be loaded"
                )
        saved_with = stored.metadata.get("library_versions", {})
        installed = library_versions()
        differing = {
            lib: (saved, installed.get(lib))
            for lib, saved in saved_with.items()
            if installed.get(lib) is not None and installed.get(lib) != saved
        }
        if differing:
            described = ", ".join(f"{lib} {old} -> {new}" for lib, (old, new) in differing.items())
            warnings.warn(
                f"{stored.ref} was saved with other library versions ({described}); "
                "retrain it if predictions look wrong",
                LibraryVersionWarning,
                stacklevel=2,
            )
        artifact = joblib.load(stored.path / ARTIFACT_FILE)
        arrays = {
            Path(file_name).stem: np.load(stored.path / file_name, mmap_mode="r", allow_pickle=False)
            for file_name in expected
            if file_name.endswith(".npy")
        }
        return LoadedModel(
            name=stored.name, version=stored.version, artifact=artifact, metadata=stored.metadata, arrays=arrays
        )


class ModelUnavailableError(RegistryError):
    """The serving process has no usable model (none trained, or the current one is damaged)."""


class CurrentModel:
    """The current version of one model for a serving process, reloaded when it is promoted.

    `get()` costs one `stat` call when nothing changed (checked at most every
    `check_interval` seconds), so apps pick up a promoted version without a
    restart.  A damaged or missing current version makes `get()` raise
    `ModelUnavailableError` with the reason (apps answer 503), while the last
    good version is not served under the new, broken alias.
    """

    def __init__(self, registry: ModelRegistry, name: str, *, check_interval: float = 0.5) -> None:
        self.registry = registry
        self.name = name
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._loaded: LoadedModel | None = None
        self._error: str | None = None
        self._checked_at = float("-inf")

    def get(self) -> LoadedModel:
        now = time.monotonic()
        if now - self._checked_at >= self.check_interval:
            self._refresh(now)
        if self._loaded is None:
            raise ModelUnavailableError(self._error or f"model {self.name!r} is not loaded")
        return self._loaded

    def status(self) -> tuple[bool, str]:
        """(ready, reason) for `/readyz`."""
        try:
            loaded = self.get()
        except ModelUnavailableError as exc:
            return False, str(exc)
        return True, f"{loaded.ref} loaded"

    def _refresh(self, now: float) -> None:
        with self._lock:
            if now - self._checked_at < self.check_interval:
                return
            stamp = self.registry.current_stamp(self.name)
            if stamp is not None and stamp == self._stamp:
                self._checked_at = now
                return
            try:
                loaded = self.registry.load(self.name)
            except (RegistryError, OSError, ValueError, EOFError) as exc:
                self._loaded, self._error = None, f"model {self.name!r} unavailable: {exc}"
            except Exception as exc:  # unpickling a damaged file can raise nearly anything
                self._loaded, self._error = None, f"model {self.name!r} unavailable: {type(exc).__name__}: {exc}"
            else:
                self._loaded, self._error = loaded, None
            self._stamp = stamp
            self._checked_at = now


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, dt.datetime, dt.date)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def registry_from_settings() -> ModelRegistry:
    from common.settings import get_settings

    return ModelRegistry(get_settings().model_store_dir)
