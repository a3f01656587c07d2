"""Datasets: catalog, loaders, and file resolution (cache -> offline mirror -> download)."""

from common.datasets.catalog import (
    DatasetSpec,
    RemoteFile,
    UnknownDatasetError,
    frames_fingerprint,
    get_dataset,
    list_datasets,
    load_dataset,
)
from common.datasets.files import ChecksumMismatchError, DatasetUnavailableError, resolve_files, where_from

__all__ = [
    "ChecksumMismatchError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "RemoteFile",
    "UnknownDatasetError",
    "frames_fingerprint",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "resolve_files",
    "where_from",
]
