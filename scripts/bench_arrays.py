"""Rows 1-4 and 10 of ``scripts/bench.py``: array blobs (netCDF, Zarr, dedup, memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import xarray as xr
from bench_common import (
    MB,
    Check,
    ProfileRequest,
    Row,
    Sizes,
    Timings,
    Workspace,
    human_bytes,
    human_time,
    interleaved,
    log,
    median,
)

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary

PROJECT = "bench"
ZARR_CHUNK_BYTES = 4 * MB  #: the Zarr adapter's chunk size (about 4 MiB per chunk)
HERE = os.path.dirname(os.path.abspath(__file__))


def spike_times(n_bytes: int, seed: int = 0) -> np.ndarray:
    """Realistic spike times (increasing seconds), ``n_bytes`` of float64."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(0.01, n_bytes // 8))


def with_record(data: np.ndarray, name: str) -> xr.DataArray:
    return xr.DataArray(data, dims=["spike_idx"],
                        attrs=vocabulary.spike_times_attrs(name, n_spikes=data.shape[0]))


def prefault(n_bytes: int) -> None:
    """Touch and free ``n_bytes`` of memory, untimed, right before each side's timed ``get``.

    Both sides then load into memory the kernel has just handed back. Without it, whichever
    side happens to get memory freed a while ago pays for the VM host backing it again (on
    the benchmark machine, a free-page-reporting VM, 0.5-1 s of system time for 256 MB, at
    random and more often for the side that ran longer since its last large free), which
    is not the cost of reading a blob."""
    scratch = np.ones(max(1, n_bytes // 8))
    del scratch


def new_store(root: str, filetype: str, durability: str = "full") -> UnitOfWorkProvider:
    provider = UnitOfWorkProvider.embedded(root, default_filetype=filetype, durability=durability)
    with provider(PROJECT) as uow:
        for model in vocabulary.all_models():
            uow.domain_models.add(model)
        uow.commit(message="vocabulary")
    return provider


# ------------------------------------------------------------------------ rows 1, 3 and 4


def netcdf_rows(sizes: Sizes, work: Workspace, profile: ProfileRequest) -> list[Row]:
    data = spike_times(sizes.array_bytes)
    raw_array = xr.DataArray(data, dims=["spike_idx"])  # attrs live in the record, not the file
    size = human_bytes(data.nbytes)
    log(f"rows 1, 3, 4: netCDF add/get/dedup of {size}, {sizes.array_reps} interleaved repetitions")

    def store(timed: Timings, rep: int) -> None:
        root = work.fresh("nc-store")
        provider = new_store(root, "netcdf")
        try:
            with provider(PROJECT) as uow:
                with timed("1"):
                    uow.data.add(with_record(data, "unit-a"))
                    uow.commit()
                with timed("4"):
                    uow.data.add(with_record(data, "unit-b"))
                    uow.commit()
            prefault(data.nbytes)
            with provider(PROJECT) as uow, timed("3"):
                loaded = uow.data.get("spike_times", "unit-a")
                _ = loaded.values
            assert loaded.shape == data.shape
        finally:
            provider.close()
            work.remove(root)
        store_without_fsync(timed)

    def store_without_fsync(timed: Timings) -> None:
        """Row 1n: row 1 with ``durability="normal"``, which, like the baseline, does not fsync."""
        root = work.fresh("nc-store-normal")
        provider = new_store(root, "netcdf", durability="normal")
        try:
            with provider(PROJECT) as uow:
                with timed("1n"):
                    uow.data.add(with_record(data, "unit-a"))
                    uow.commit()
        finally:
            provider.close()
            work.remove(root)

    def baseline(timed: Timings, rep: int) -> None:
        root = work.fresh("nc-raw")
        path = os.path.join(root, "raw.nc")
        try:
            with timed("1"):
                raw_array.to_netcdf(path, engine="netcdf4")
            with timed("fsync"):  # not part of the baseline: what the store's fsync costs here
                fd = os.open(path, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
            prefault(data.nbytes)
            with timed("3"), xr.open_dataarray(path, engine="netcdf4") as opened:
                loaded = opened.load()
            assert loaded.shape == data.shape
        finally:
            work.remove(root)

    store_t, base_t = interleaved(sizes.array_reps, store, baseline)
    profile.run(store, profile.wants("1", "3", "4"))
    write, dedup, read = median(store_t["1"]), median(store_t["4"]), median(store_t["3"])
    write_unsynced = median(store_t["1n"])
    raw_write, raw_read = median(base_t["1"]), median(base_t["3"])
    # the store fsyncs before it commits, the baseline does not: also compare with raw + fsync
    raw_synced = median([w + f for w, f in zip(base_t["1"], base_t["fsync"], strict=True)])
    common = {"store_samples_s": store_t, "baseline_samples_s": base_t,
              "raw_fsync_s": median(base_t["fsync"])}
    return [
        Row("1", "add+commit DataArray (netCDF)", size, write, raw_write,
            [Check("store/raw time", write / raw_write, "<=", 1.3)],
            baseline="DataArray.to_netcdf(engine='netcdf4'), no fsync", reps=sizes.array_reps,
            baseline_label=f"{human_time(raw_write)} (+fsync {human_time(raw_synced)}: "
                           f"{write / raw_synced:.2f}x)",
            extra={**common, "store_MB_per_s": data.nbytes / MB / write,
                   "raw_MB_per_s": data.nbytes / MB / raw_write,
                   "raw_plus_fsync_s": raw_synced, "ratio_vs_raw_plus_fsync": write / raw_synced,
                   "ratio_of_fastest": min(store_t["1"]) / min(base_t["1"])}),
        Row("1n", "same, durability='normal' (no fsync)", size, write_unsynced, raw_write,
            [Check("store/raw time", write_unsynced / raw_write, "<=", 1.3)],
            baseline="DataArray.to_netcdf(engine='netcdf4'), no fsync", reps=sizes.array_reps,
            extra={"store_samples_s": store_t["1n"], "store_MB_per_s": data.nbytes / MB / write_unsynced,
                   "ratio_of_fastest": min(store_t["1n"]) / min(base_t["1"])}),
        Row("3", "get DataArray, loaded (netCDF)", size, read, raw_read,
            [Check("store/raw time", read / raw_read, "<=", 1.1)],
            baseline="xr.open_dataarray(raw).load()", reps=sizes.array_reps,
            extra={"store_MB_per_s": data.nbytes / MB / read, "raw_MB_per_s": data.nbytes / MB / raw_read,
                   "ratio_of_fastest": min(store_t["3"]) / min(base_t["3"])}),
        Row("4", "add same content, new name (dedup)", size, dedup, write,
            [Check("dedup/row-1 time", dedup / write, "<=", 0.25)],
            baseline="row 1 store time", reps=sizes.array_reps,
            extra={"ratio_of_fastest": min(store_t["4"]) / min(store_t["1"])}),
    ]


# ------------------------------------------------------------------------------------ row 2


def zarr_row(sizes: Sizes, work: Workspace, profile: ProfileRequest) -> list[Row]:
    data = spike_times(sizes.array_bytes, seed=1)
    raw_array = xr.DataArray(data, dims=["spike_idx"])
    chunks = (max(1, ZARR_CHUNK_BYTES // 8),)
    size = human_bytes(data.nbytes)
    log(f"row 2: Zarr add of {size}, {sizes.array_reps} interleaved repetitions")

    def store(timed: Timings, rep: int) -> None:
        root = work.fresh("zarr-store")
        provider = new_store(root, "zarr")
        try:
            with provider(PROJECT) as uow, timed("2"):
                uow.data.add(with_record(data, "unit-a"))
                uow.commit()
        finally:
            provider.close()
            work.remove(root)

    def baseline(timed: Timings, rep: int) -> None:
        root = work.fresh("zarr-raw")
        try:
            with timed("2"):  # zarr's default codecs (zstd level 0), the adapter's chunks
                raw_array.to_zarr(os.path.join(root, "raw.zarr"), mode="w-", zarr_format=3,
                                  consolidated=False,
                                  encoding={"__xarray_dataarray_variable__": {"chunks": chunks}})
        finally:
            work.remove(root)

    store_t, base_t = interleaved(sizes.array_reps, store, baseline)
    profile.run(store, profile.wants("2"))
    write, raw_write = median(store_t["2"]), median(base_t["2"])
    return [Row("2", "add+commit DataArray (Zarr)", size, write, raw_write,
                [Check("store/raw time", write / raw_write, "<=", 1.15)],
                baseline=f"DataArray.to_zarr(zarr_format=3, chunks={chunks[0]}, zstd)",
                reps=sizes.array_reps,
                extra={"store_samples_s": store_t, "baseline_samples_s": base_t,
                       "store_MB_per_s": data.nbytes / MB / write,
                       "raw_MB_per_s": data.nbytes / MB / raw_write,
                       "ratio_of_fastest": min(store_t["2"]) / min(base_t["2"])})]


# ----------------------------------------------------------------------------------- row 10


def memory_row(sizes: Sizes, work: Workspace, profile: ProfileRequest) -> list[Row]:
    """Peak RSS growth while adding a dask-backed array, each side in a fresh child process."""
    size = human_bytes(sizes.memory_bytes)
    log(f"row 10: peak memory while adding a dask-backed {size} array (child processes)")
    results: dict[str, dict[str, Any]] = {}
    for mode in ("store", "raw"):
        root = work.fresh(f"mem-{mode}")
        try:
            results[mode] = _child(mode, sizes.memory_bytes, root)
        finally:
            work.remove(root)
    if "10" in profile.rows:
        root = work.fresh("mem-profile")
        try:
            _child("store", sizes.memory_bytes, root,
                   profile_to=os.path.join(profile.directory, "profile-row10.txt"))
            profile.reports["10"] = os.path.join(profile.directory, "profile-row10.txt")
        finally:
            work.remove(root)
    store, raw = results["store"], results["raw"]
    growth = store["peak_growth_bytes"] / store["array_bytes"]
    return [Row("10", "peak RSS adding dask-backed array", size, store["seconds"], raw["seconds"],
                [Check("peak RSS growth / array size", growth, "<=", 0.25)],
                baseline="DataArray.to_netcdf of the same dask array (time; its RSS in extra)",
                reps=1,
                store_label=f"{store['seconds']:.2f} s, +{store['peak_growth_bytes'] / MB:.0f} MB",
                baseline_label=f"{raw['seconds']:.2f} s, +{raw['peak_growth_bytes'] / MB:.0f} MB",
                extra={"store": store, "raw": raw,
                       "raw_growth_ratio": raw["peak_growth_bytes"] / raw["array_bytes"]})]


def _child(mode: str, n_bytes: int, root: str, profile_to: str | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    repo = os.path.dirname(HERE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, HERE, env.get("PYTHONPATH")) if p)
    command = [sys.executable, os.path.join(HERE, "bench_memory.py"), mode, str(n_bytes), root]
    if profile_to:
        command.append(profile_to)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"memory child ({mode}) failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
