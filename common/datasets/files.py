"""Find a remote dataset's files: cache folder -> offline mirror -> download from the origin.

Every copy is checked against the catalog's sha256 before it is used; a
mismatch is refused, never silently used.  Downloads stream to a temporary
file with a progress bar and are renamed into the cache only once verified.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import requests
from tqdm import tqdm

from common.datasets.catalog import DatasetSpec, RemoteFile
from common.settings import Settings, get_settings

Source = Literal["cache", "mirror", "download", "embedded", "unavailable"]


class DatasetUnavailableError(RuntimeError):
    """No verified copy of a dataset could be found or fetched."""


class ChecksumMismatchError(DatasetUnavailableError):
    pass


def cache_path(spec: DatasetSpec, remote: RemoteFile, settings: Settings) -> Path:
    return settings.data_cache_dir / spec.name / remote.name


def mirror_path(remote: RemoteFile, settings: Settings) -> Path | None:
    if settings.data_mirror_dir is None:
        return None
    return settings.data_mirror_dir / remote.mirror_path


def _verify(remote: RemoteFile, path: Path, *, where: str) -> None:
    if remote.sha256 is None:
        return
    actual = remote.checksum(path.read_bytes())
    if actual != remote.sha256:
        raise ChecksumMismatchError(
            f"{where} copy of {remote.name} at {path} has sha256 {actual}, expected {remote.sha256}; "
            "refusing to use it"
        )


def where_from(spec: DatasetSpec, settings: Settings | None = None) -> Source:
    """Where the dataset would come from right now (no download, no checksum work)."""
    settings = settings or get_settings()
    if not spec.is_remote:
        return "embedded"
    if all(cache_path(spec, f, settings).exists() for f in spec.files):
        return "cache"
    mirrored = [mirror_path(f, settings) for f in spec.files]
    if all(p is not None and p.exists() for p in mirrored):
        return "mirror"
    if settings.allow_download and spec.origin_url:
        return "download"
    return "unavailable"


def resolve_files(spec: DatasetSpec, settings: Settings | None = None, *, quiet: bool = False) -> dict[str, Path]:
    """Paths of every file of `spec`, verified, downloading what the cache and mirror lack."""
    settings = settings or get_settings()
    paths: dict[str, Path] = {}
    missing: list[RemoteFile] = []
    for remote in spec.files:
        cached = cache_path(spec, remote, settings)
        if cached.exists():
            _verify(remote, cached, where="cached")
            paths[remote.name] = cached
            continue
        mirrored = mirror_path(remote, settings)
        if mirrored is not None and mirrored.exists():
            _verify(remote, mirrored, where="mirror")
            paths[remote.name] = mirrored
            continue
        missing.append(remote)
    if missing:
        paths.update(_download(spec, missing, settings, quiet=quiet))
    return paths


def _unavailable_message(spec: DatasetSpec, settings: Settings, reason: str) -> str:
    mirror = settings.data_mirror_dir or "(unset)"
    return (
        f"dataset {spec.name!r} is not available: {reason}. Origin: {spec.origin_url}. "
        f"Mirror setting MLAPPS_DATA_MIRROR={mirror}; point it at a folder holding "
        f"{', '.join(f.mirror_path for f in spec.files)}, or allow downloads (MLAPPS_ALLOW_DOWNLOAD=1) "
        "on a machine with network access."
    )


def _download(
    spec: DatasetSpec, missing: list[RemoteFile], settings: Settings, *, quiet: bool
) -> dict[str, Path]:
    if not settings.allow_download or not spec.origin_url:
        raise DatasetUnavailableError(_unavailable_message(spec, settings, "no cached or mirrored copy, downloads off"))
    target_dir = settings.data_cache_dir / spec.name
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".download-") as tmp:
        archive = Path(tmp) / "origin"
        try:
            _stream(spec.origin_url, archive, timeout=settings.download_timeout_seconds, quiet=quiet, label=spec.name)
        except requests.RequestException as exc:
            raise DatasetUnavailableError(
                _unavailable_message(spec, settings, f"download failed ({type(exc).__name__}: {exc})")
            ) from exc
        result = {}
        for remote in missing:
            data = _extract(archive, remote.name, origin_url=spec.origin_url)
            if data is None:
                raise DatasetUnavailableError(
                    _unavailable_message(spec, settings, f"{remote.name} was not found in the downloaded file")
                )
            staged = Path(tmp) / remote.name
            staged.write_bytes(data)
            _verify(remote, staged, where="downloaded")
            final = target_dir / remote.name
            os.replace(staged, final)
            result[remote.name] = final
    return result


def _stream(url: str, dest: Path, *, timeout: float, quiet: bool, label: str) -> None:
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length") or 0) or None
        with open(dest, "wb") as handle, tqdm(
            total=total, unit="B", unit_scale=True, desc=f"download {label}", disable=quiet
        ) as bar:
            for chunk in response.iter_content(chunk_size=1 << 16):
                handle.write(chunk)
                bar.update(len(chunk))


def _extract(path: Path, name: str, *, origin_url: str) -> bytes | None:
    """The bytes of member `name` of a (possibly nested) zip archive, or the file itself."""
    if not zipfile.is_zipfile(path):
        return path.read_bytes() if origin_url.rsplit("/", 1)[-1] == name else None
    return _extract_from_zip(zipfile.ZipFile(path), name)


def _extract_from_zip(archive: zipfile.ZipFile, name: str) -> bytes | None:
    with archive:
        members = archive.namelist()
        for member in members:
            if member.rsplit("/", 1)[-1] == name:
                return archive.read(member)
        for member in members:
            if member.lower().endswith(".zip"):
                found = _extract_from_zip(zipfile.ZipFile(io.BytesIO(archive.read(member))), name)
                if found is not None:
                    return found
    return None


def clear_cache(spec: DatasetSpec, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    shutil.rmtree(settings.data_cache_dir / spec.name, ignore_errors=True)
