"""Downloads against a real HTTP server on 127.0.0.1 (the origin URL is pointed at it)."""

import dataclasses
import functools
import http.server
import io
import threading
import zipfile

import pytest

from common.datasets import DatasetUnavailableError, get_dataset, load_dataset, resolve_files
from common.datasets import catalog as catalog_module
from common.settings import get_settings


@pytest.fixture
def origin(tmp_path):
    """A local HTTP server serving files from a folder; yields (base_url, folder, server)."""
    folder = tmp_path / "origin"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder, server
    server.shutdown()
    server.server_close()


@pytest.fixture
def ml100k_at(monkeypatch):
    """Point the movielens-100k entry at another origin URL for the duration of a test."""
    spec = get_dataset("movielens-100k")

    def point(url):
        monkeypatch.setitem(catalog_module._CATALOG, spec.name, dataclasses.replace(spec, origin_url=url))

    return point


def zip_of(mirror_dir, *, corrupt: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("u.data", "u.item"):
            data = (mirror_dir / "ml-100k" / name).read_bytes()
            if corrupt and name == "u.data":
                data = data.replace(b"\t3\t", b"\t4\t", 1)
            archive.writestr(f"ml-100k/{name}", data)
    return buffer.getvalue()


@pytest.fixture
def downloads_on(monkeypatch):
    monkeypatch.setenv("MLAPPS_ALLOW_DOWNLOAD", "1")
    monkeypatch.delenv("MLAPPS_DATA_MIRROR", raising=False)
    get_settings.cache_clear()


def test_download_verifies_and_caches_the_files(origin, ml100k_at, mirror_dir, downloads_on):
    base, folder, _ = origin
    (folder / "ml-100k.zip").write_bytes(zip_of(mirror_dir))
    ml100k_at(f"{base}/ml-100k.zip")
    paths = resolve_files(get_dataset("movielens-100k"), quiet=True)
    cache = get_settings().data_cache_dir / "movielens-100k"
    assert paths["u.data"] == cache / "u.data"
    assert len(load_dataset("movielens-100k")["ratings"]) == 100_000
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "no temporary file is left behind"


def test_download_with_checksum_mismatch_is_refused_and_not_cached(origin, ml100k_at, mirror_dir, downloads_on):
    base, folder, _ = origin
    (folder / "ml-100k.zip").write_bytes(zip_of(mirror_dir, corrupt=True))
    ml100k_at(f"{base}/ml-100k.zip")
    with pytest.raises(DatasetUnavailableError, match="sha256"):
        resolve_files(get_dataset("movielens-100k"), quiet=True)
    assert not (get_settings().data_cache_dir / "movielens-100k" / "u.data").exists()


def test_server_gone_gives_a_clear_error(origin, ml100k_at, downloads_on):
    base, _, server = origin
    server.shutdown()
    server.server_close()
    ml100k_at(f"{base}/ml-100k.zip")
    with pytest.raises(DatasetUnavailableError, match="download failed.*MLAPPS_DATA_MIRROR"):
        resolve_files(get_dataset("movielens-100k"), quiet=True)


def test_missing_file_on_the_server_gives_a_clear_error(origin, ml100k_at, downloads_on):
    base, _, _ = origin
    ml100k_at(f"{base}/nothing-here.zip")
    with pytest.raises(DatasetUnavailableError, match="404"):
        resolve_files(get_dataset("movielens-100k"), quiet=True)
