import hashlib
import shutil

import pandas as pd
import pytest

from common.datasets import (
    DatasetUnavailableError,
    UnknownDatasetError,
    frames_fingerprint,
    get_dataset,
    list_datasets,
    load_dataset,
    where_from,
)
from common.settings import get_settings

ALL = {"movielens-small", "movielens-100k", "credit-data", "ai4i-2020", "cmapss-fd001", "ai4i-sim", "cmapss-sim"}


def test_catalog_lists_every_dataset_with_origin_licence_and_citation():
    specs = {spec.name: spec for spec in list_datasets()}
    assert ALL <= set(specs)
    for spec in specs.values():
        assert spec.licence and spec.citation and spec.columns
        assert spec.embedded or spec.origin_url.startswith("https://")
        assert all(f.sha256 and len(f.sha256) == 64 for f in spec.files)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(UnknownDatasetError, match="credit-data"):
        get_dataset("nope")


def test_embedded_movielens_small_has_the_documented_shape():
    frames = load_dataset("movielens-small")
    ratings, movies = frames["ratings"], frames["movies"]
    assert len(ratings) == 100_004 and len(movies) == 9_066
    assert list(ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert ratings["rating"].between(0.5, 5).all()
    assert ratings["user_id"].nunique() == 671


def test_embedded_credit_data_has_the_documented_shape():
    applicants = load_dataset("credit-data")["applicants"]
    assert len(applicants) == 4_454
    assert set(applicants["Status"]) == {"good", "bad"}
    assert applicants["Income"].isna().sum() == 381


def test_real_files_load_from_the_offline_mirror(mirror_dir, monkeypatch):
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror_dir))
    get_settings.cache_clear()
    assert where_from(get_dataset("ai4i-2020")) == "mirror"
    readings = load_dataset("ai4i-2020")["readings"]
    assert len(readings) == 10_000
    assert readings["machine_failure"].sum() == 339
    assert readings[["twf", "hdf", "pwf", "osf", "rnf"]].sum().tolist() == [46, 115, 95, 98, 19]
    cmapss = load_dataset("cmapss-fd001")
    assert cmapss["train"]["unit"].nunique() == 100 and len(cmapss["train"]) == 20_631
    assert cmapss["rul"]["rul"].between(7, 145).all()
    ml = load_dataset("movielens-100k")
    assert len(ml["ratings"]) == 100_000 and len(ml["movies"]) == 1_682
    assert ml["movies"].loc[0, "title"] == "Toy Story (1995)"


def test_ai4i_variants_with_bom_crlf_and_other_header_spelling_are_accepted(mirror_dir, tmp_path, monkeypatch):
    original = (mirror_dir / "ai4i2020" / "ai4i2020.csv").read_bytes()
    header, _, body = original.decode().partition("\n")
    variant_header = header.replace("Air temperature [K]", "Air temperature K").replace("Torque [Nm]", "torque_nm")
    variant = ("\ufeff" + variant_header + "\n" + body.replace("\r\n", "\n")).encode()
    mirror = tmp_path / "mirror"
    (mirror / "ai4i2020").mkdir(parents=True)
    (mirror / "ai4i2020" / "ai4i2020.csv").write_bytes(variant)
    assert hashlib.sha256(variant).hexdigest() != hashlib.sha256(original).hexdigest()
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror))
    get_settings.cache_clear()
    readings = load_dataset("ai4i-2020")["readings"]
    assert readings["air_temperature_k"].iloc[0] == pytest.approx(298.1)
    assert readings["machine_failure"].sum() == 339


def test_changed_value_in_a_mirror_copy_is_refused(mirror_dir, tmp_path, monkeypatch):
    original = (mirror_dir / "ai4i2020" / "ai4i2020.csv").read_bytes()
    mirror = tmp_path / "mirror"
    (mirror / "ai4i2020").mkdir(parents=True)
    (mirror / "ai4i2020" / "ai4i2020.csv").write_bytes(original.replace(b"298.1,308.6", b"298.1,318.6", 1))
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror))
    get_settings.cache_clear()
    with pytest.raises(DatasetUnavailableError, match="refusing"):
        load_dataset("ai4i-2020")


def test_offline_with_no_copy_names_dataset_url_and_mirror_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    get_settings.cache_clear()
    spec = get_dataset("cmapss-fd001")
    assert where_from(spec) == "unavailable"
    with pytest.raises(DatasetUnavailableError) as error:
        load_dataset("cmapss-fd001")
    message = str(error.value)
    assert "cmapss-fd001" in message and spec.origin_url in message and "MLAPPS_DATA_MIRROR" in message


def test_cache_is_preferred_over_the_mirror(mirror_dir, monkeypatch, isolated_settings):
    cache = isolated_settings.data_cache_dir / "movielens-100k"
    cache.mkdir(parents=True)
    for name in ("u.data", "u.item"):
        shutil.copy(mirror_dir / "ml-100k" / name, cache / name)
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror_dir))
    get_settings.cache_clear()
    assert where_from(get_dataset("movielens-100k")) == "cache"
    assert len(load_dataset("movielens-100k")["ratings"]) == 100_000


def test_fingerprint_changes_when_one_value_changes():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    first = frames_fingerprint(dataset="toy", frames={"t": frame})
    changed = frame.copy()
    changed.loc[2, "a"] = 4
    second = frames_fingerprint(dataset="toy", frames={"t": changed})
    assert first["rows"] == {"t": 3}
    assert first["content_sha256"] != second["content_sha256"]
    assert first == frames_fingerprint(dataset="toy", frames={"t": frame.copy()})
