#!/usr/bin/env python
"""Benchmark signalstore_es against raw baselines measured in the same run (issue 6).

    python scripts/bench.py [--quick] [--backend sqlite|mongo] [--json out.json]
                            [--mongo-uri URI] [--rows 1,2,...] [--profile 1,5,...]

Prints one table (operation, size, store time, baseline time, ratio, target, pass/fail) and,
with ``--json``, writes it as JSON, together with the machine and BLAKE3/SHA-256 hashing
throughput. Absolute times on a shared machine are noisy, so every row is a ratio against a
baseline measured in the same run: store and baseline repetitions alternate (the order flips
each repetition) and medians are compared; query rows compare per-query p50s of interleaved
queries.

Rows (``--backend sqlite``, the default):

==  =============================================================  ========================
1   add+commit a 256 MB float64 DataArray as netCDF                 <= 1.3x ``to_netcdf``
1n  the same with ``durability="normal"`` (no fsync, as the baseline) <= 1.3x ``to_netcdf``
2   the same as Zarr (``default_filetype="zarr"``)                  <= 1.15x ``to_zarr``
3   ``get`` of the array of row 1, loaded                           <= 1.1x ``open_dataarray().load()``
4   add the same content under a new name (dedup)                   <= 0.25x row 1
5   add+commit 10,000 records in one commit (``add_many``)          >= 1.0x eventsourcing, >= 20,000 rec/s
5a  the same with a loop of ``add``                                 >= 1.0x eventsourcing, >= 20,000 rec/s
6   1,000 commits of one record                                     >= 1.0x eventsourcing
7   ``find`` by schema_ref+data_name over 100,000 records           p50 <= 5 ms and <= 3x raw SQL
8   ``find(as_of=seq)`` of the query in 7                           <= 2x row 7
9   ``rebuild`` of all views from 1,000,000 events                  >= 50,000 events/s
10  peak RSS growth adding a 1 GB dask-backed array                 <= 0.25x array size
==  =============================================================  ========================

``--backend mongo`` runs rows 5-7 against a MongoDB-protocol server as rows 11.5-11.7 (and 11.5a)
(>= 0.3x raw pymongo throughput; find <= 3x ``find_one``). ``--quick`` shrinks every size
(8 MB arrays, 1,000 records, 100 commits, 5,000 records for find, 20,000 events, 64 MB) and
always exits 0 when the script itself works: timings never fail it. A full run exits 1 if a
target is missed.

``--profile ROWS`` runs one more store-side repetition of each listed row under pyinstrument
(``pip install pyinstrument``) and writes ``profile-row<N>.txt`` into ``--profile-dir``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for entry in (REPO, HERE):  # the library and the bench_* helpers, however the script is started
    if entry not in sys.path:
        sys.path.insert(0, entry)

from bench_common import FULL, MB, QUICK, ProfileRequest, Row, Sizes, Workspace, human_time, log, median  # noqa: E402

ALL_ROWS = ("1", "1n", "2", "3", "4", "5", "5a", "6", "7", "8", "9", "10")
MONGO_ROWS = ("11.5", "11.5a", "11.6", "11.7")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke test, < 2 min)")
    parser.add_argument("--backend", choices=("sqlite", "mongo"), default="sqlite")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--mongo-uri", metavar="URI",
                        help="MongoDB server for --backend mongo (default: start FerretDB)")
    parser.add_argument("--rows", metavar="IDS", help="comma-separated subset of rows to run")
    parser.add_argument("--profile", metavar="IDS", default="",
                        help="rows whose store side to profile with pyinstrument")
    parser.add_argument("--profile-dir", metavar="DIR", default="bench-profiles")
    parser.add_argument("--workdir", metavar="DIR",
                        help="parent of the scratch directory (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------------- hashing


def measure_hashing(n_bytes: int, reps: int = 5) -> list[dict[str, Any]]:
    """Single-call throughput of BLAKE3 and SHA-256 over one in-memory buffer (GB/s).

    ``GB_per_s`` is from the median time; ``best_GB_per_s`` from the fastest repetition, the
    better estimate of the machine's speed when other processes share the cores."""
    import blake3  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    data = np.random.default_rng(0).integers(0, 256, n_bytes, dtype=np.uint8).data
    hashers = {
        "blake3 (1 thread)": lambda: blake3.blake3(data).digest(),
        "blake3 (max_threads=AUTO)": lambda: blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest(),
        "sha256 (hashlib/OpenSSL)": lambda: hashlib.sha256(data).digest(),
    }
    seconds: dict[str, list[float]] = {name: [] for name in hashers}
    for rep in range(reps):
        for name in (list(hashers) if rep % 2 == 0 else list(hashers)[::-1]):
            start = time.perf_counter()
            hashers[name]()
            seconds[name].append(time.perf_counter() - start)
    return [{"algorithm": name, "bytes": n_bytes, "seconds": median(times),
             "GB_per_s": n_bytes / 1e9 / median(times), "best_GB_per_s": n_bytes / 1e9 / min(times)}
            for name, times in seconds.items()]


def sha_extensions() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " sha_ni" in line for line in cpuinfo)
    except OSError:
        return False


# ----------------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu_count": os.cpu_count(), "sha_ni": sha_extensions()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Core(s) per socket", "Thread(s) per core"):
                info[key.strip()] = value.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith(("MemTotal", "MemAvailable")):
                    key, value = line.split(":")
                    info[key + "_GB"] = round(int(value.split()[0]) / 2**20, 1)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        info["loadavg_start"] = os.getloadavg()
    from importlib import metadata  # noqa: PLC0415

    versions = {}
    for package in ("signalstore_es", "eventsourcing", "xarray", "zarr", "netCDF4", "numpy", "dask",
                    "blake3", "pymongo"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    info["versions"] = versions
    return info


# ------------------------------------------------------------------------------------ output


HEADERS = ("#", "operation", "size", "store", "baseline", "ratio", "target", "result")


def table_cells(row: Row) -> tuple[str, ...]:
    return (row.id, row.operation, row.size, row.store_label or human_time(row.store_s),
            row.baseline_label or human_time(row.baseline_s), f"{row.ratio:.3g}x", row.target,
            "pass" if row.passed else "FAIL")


def print_table(rows: list[Row], hashing: list[dict[str, Any]], title: str) -> None:
    hash_lines = [f"{h['algorithm']}: {h['GB_per_s']:.2f} GB/s (best {h['best_GB_per_s']:.2f})"
                  for h in hashing]
    if sys.stdout.isatty():
        try:
            from rich.console import Console  # noqa: PLC0415
            from rich.table import Table  # noqa: PLC0415
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for header in HEADERS:
                table.add_column(header, justify="right" if header in ("store", "baseline", "ratio") else "left")
            for row in rows:
                cells = list(table_cells(row))
                cells[-1] = "[green]pass[/]" if row.passed else "[bold red]FAIL[/]"
                table.add_row(*cells)
            console = Console()
            console.print(table)
            console.print("hashing (one buffer in memory): " + "; ".join(hash_lines))
            return
    cells = [HEADERS, *(table_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    print(title)
    for i, line in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))
    print("hashing (one buffer in memory): " + "; ".join(hash_lines))


# -------------------------------------------------------------------------------------- main


def run_rows(args: argparse.Namespace, sizes: Sizes, work: Workspace, profile: ProfileRequest) -> list[Row]:
    wanted = set(args.rows.split(",")) if args.rows else None

    def want(*ids: str) -> bool:
        return wanted is None or bool(wanted & set(ids))

    rows: list[Row] = []
    if args.backend == "mongo":
        from bench_mongo import mongo_rows  # noqa: PLC0415

        if want(*MONGO_ROWS, "5", "5a", "6", "7", "11"):
            rows += mongo_rows(sizes, work, profile, args.mongo_uri,
                               batch=want("11", "11.5", "11.5a", "5", "5a"), single=want("11", "11.6", "6"),
                               find=want("11", "11.7", "7"))
        return _selected(rows, wanted)
    import bench_arrays  # noqa: PLC0415
    import bench_records  # noqa: PLC0415

    if want("1", "1n", "3", "4"):
        rows += bench_arrays.netcdf_rows(sizes, work, profile)
    if want("2"):
        rows += bench_arrays.zarr_row(sizes, work, profile)
    target = bench_records.SqliteTarget(work)
    if want("5", "5a", "6"):
        rows += bench_records.write_rows(target, sizes, profile, batch=want("5", "5a"), single=want("6"))
    if want("7", "8", "9"):
        rows += bench_records.query_rows(target, sizes, profile, with_rebuild=want("9"))
    if want("10"):
        rows += bench_arrays.memory_row(sizes, work, profile)
    order = {row_id: i for i, row_id in enumerate(ALL_ROWS + MONGO_ROWS)}
    rows.sort(key=lambda r: order.get(r.id, len(order)))
    return _selected(rows, wanted)


def _selected(rows: list[Row], wanted: set[str] | None) -> list[Row]:
    """The rows asked for: by id, by the id within 11 (``5`` selects 11.5), or all of 11."""
    return [r for r in rows if wanted is None or r.id in wanted or r.id.split(".")[-1] in wanted
            or ("11" in wanted and r.id.startswith("11."))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    began = time.perf_counter()
    info = machine()
    log(f"{'quick' if args.quick else 'full'} run, backend {args.backend}, on {info.get('Model name', '?')} "
        f"({info.get('cpu_count')} CPUs)")
    profile = ProfileRequest({p for p in args.profile.split(",") if p}, os.path.abspath(args.profile_dir))
    work = Workspace(args.workdir, args.keep)
    try:
        log(f"hashing {sizes.hash_bytes // MB} MB with BLAKE3 and SHA-256")
        hashing = measure_hashing(sizes.hash_bytes)
        rows = run_rows(args, sizes, work, profile)
    finally:
        work.close()
    duration = time.perf_counter() - began
    title = (f"signalstore_es benchmark ({'quick' if args.quick else 'full'}, {args.backend}) - "
             f"{info.get('Model name', '?')}, {info.get('cpu_count')} CPUs, {duration:.0f} s")
    print_table(rows, hashing, title)
    if args.json:
        document = {"mode": "quick" if args.quick else "full", "backend": args.backend,
                    "duration_s": duration, "machine": info, "hashing": hashing,
                    "sizes": sizes.__dict__, "rows": [r.as_json() for r in rows],
                    "profiles": profile.reports, "all_passed": all(r.passed for r in rows)}
        with open(args.json, "w") as out:
            json.dump(document, out, indent=2, default=_jsonable)
        log(f"results written to {args.json}")
    if args.quick:
        return 0
    return 0 if all(r.passed for r in rows) else 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
