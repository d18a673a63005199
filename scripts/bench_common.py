"""Shared pieces of ``scripts/bench.py``: sizes, result rows, interleaved timing, profiling.

Every timed section runs inside ``timed(name)`` (see :class:`Timings`), so the same repetition
function serves three purposes: the measured repetitions, the baseline repetitions and, with a
profiler attached, one extra repetition whose timed sections only are profiled.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

MB = 2**20
GB = 2**30


# ------------------------------------------------------------------------------------ sizes


@dataclass(frozen=True)
class Sizes:
    """What each row measures; ``quick`` shrinks everything for the CI smoke test."""

    array_bytes: int
    array_reps: int
    records: int  #: row 5: records in one commit
    records_reps: int
    commits: int  #: row 6: single-record commits
    commits_reps: int
    find_records: int  #: rows 7-8: records in the queried view
    find_queries: int
    rebuild_events: int  #: row 9: events in the log (built as commits of build_batch records)
    build_batch: int
    rebuild_reps: int
    memory_bytes: int  #: row 10: size of the dask-backed array
    hash_bytes: int
    #: row 11 (MongoDB): FerretDB 1.24 (SQLite handler) answers every filter but _id with a
    #: collection scan, so each add's existence check and each find costs O(view size); the
    #: single-commit and find rows use smaller sizes there
    mongo_commits: int
    mongo_find_records: int
    mongo_find_queries: int


FULL = Sizes(array_bytes=256 * MB, array_reps=5, records=10_000, records_reps=5, commits=1_000,
             commits_reps=3, find_records=100_000, find_queries=1_000, rebuild_events=1_000_000,
             build_batch=1_000, rebuild_reps=2, memory_bytes=1 * GB, hash_bytes=256 * MB,
             mongo_commits=300, mongo_find_records=2_000, mongo_find_queries=100)
QUICK = Sizes(array_bytes=8 * MB, array_reps=3, records=1_000, records_reps=3, commits=100,
              commits_reps=3, find_records=5_000, find_queries=200, rebuild_events=20_000,
              build_batch=1_000, rebuild_reps=3, memory_bytes=64 * MB, hash_bytes=32 * MB,
              mongo_commits=50, mongo_find_records=500, mongo_find_queries=40)


def human_bytes(n: float) -> str:
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n:.0f} B"


def human_count(n: float, what: str) -> str:
    return f"{n:,.0f} {what}"


def human_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


# -------------------------------------------------------------------------------------- rows


@dataclass
class Check:
    """One target: ``value op limit`` (``op`` is ``<=`` or ``>=``)."""

    name: str
    value: float
    op: str
    limit: float
    unit: str = "x"

    @property
    def passed(self) -> bool:
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def describe(self) -> str:
        if self.unit == "x":
            return f"{self.op} {self.limit:g}x"
        got = f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:.3g}"
        return f"{self.op} {self.limit:,g} {self.unit} (got {got})"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "op": self.op, "limit": self.limit,
                "unit": self.unit, "passed": self.passed}


@dataclass
class Row:
    """One line of the result table.

    ``store_s``/``baseline_s`` are median seconds (row 10: the add and the raw write of the
    dask-backed array); ``ratio`` is the value of the first check, in the direction its target
    is stated (time ratio for ``<=`` targets, throughput ratio for ``>=`` targets), or, when
    that check is an absolute rate, the store/baseline time ratio.
    """

    id: str
    operation: str
    size: str
    store_s: float
    baseline_s: float
    checks: list[Check]
    baseline: str  #: what the baseline is
    reps: int
    store_label: str = ""  #: overrides the formatted store time in the table
    baseline_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    ratio: float = math.nan  #: store/baseline time when the first check is not a ratio

    def __post_init__(self) -> None:
        if math.isnan(self.ratio):
            self.ratio = self.checks[0].value

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def target(self) -> str:
        return "; ".join(c.describe() for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "operation": self.operation, "size": self.size,
                "store_s": self.store_s, "baseline_s": self.baseline_s, "ratio": self.ratio,
                "target": self.target, "passed": self.passed, "baseline": self.baseline,
                "reps": self.reps, "checks": [c.as_json() for c in self.checks],
                "extra": self.extra}


# ----------------------------------------------------------------------------------- timing


class Timings:
    """Accumulates the seconds of named timed sections of one repetition.

    With ``profilers`` (name -> pyinstrument Profiler), the sections of those names are also
    profiled (the profiler runs only inside them; pyinstrument merges the sessions).
    """

    def __init__(self, profilers: dict[str, Any] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.samples: dict[str, list[float]] = {}
        self._profilers = profilers or {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        profiler = self._profilers.get(name)
        if profiler is not None:
            profiler.start()
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            if profiler is not None:
                profiler.stop()
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            self.samples.setdefault(name, []).append(elapsed)


Rep = Callable[[Timings, int], None]


def settle() -> None:
    """Between measurements: free garbage, and flush dirty pages so that the write-back of
    one measurement's files does not land in the next one's time."""
    gc.collect()
    if hasattr(os, "sync"):
        os.sync()


def interleaved(reps: int, store: Rep, baseline: Rep) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run ``reps`` store and baseline repetitions alternately (the order flips every
    repetition, so drift in machine load hits both sides alike); per-name seconds lists."""
    store_times: dict[str, list[float]] = {}
    baseline_times: dict[str, list[float]] = {}
    for rep in range(reps):
        sides = [(store, store_times), (baseline, baseline_times)]
        if rep % 2:
            sides.reverse()
        for run, into in sides:
            settle()
            timings = Timings()
            run(timings, rep)
            for name, seconds in timings.seconds.items():
                into.setdefault(name, []).append(seconds)
    return store_times, baseline_times


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --------------------------------------------------------------------------------- profiling


class ProfileRequest:
    """Which rows to profile (``--profile``) and where to write the reports."""

    def __init__(self, rows: set[str], directory: str) -> None:
        self.rows = rows
        self.directory = directory
        self.reports: dict[str, str] = {}

    def wants(self, *names: str) -> list[str]:
        return [n for n in names if n in self.rows]

    def run(self, rep: Rep, names: list[str], rep_index: int = 0) -> None:
        """Run one more repetition with the sections ``names`` profiled; write the reports."""
        if not names:
            return
        from pyinstrument import Profiler  # noqa: PLC0415 - only when profiling

        profilers = {name: Profiler(interval=0.0005) for name in names}
        settle()
        rep(Timings(profilers), rep_index)
        os.makedirs(self.directory, exist_ok=True)
        for name, profiler in profilers.items():
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            path = os.path.join(self.directory, f"profile-row{name}.txt")
            with open(path, "w") as out:
                out.write(text)
            self.reports[name] = path
            print(f"[bench] profile of row {name} written to {path}", file=sys.stderr)


NO_PROFILE = ProfileRequest(set(), "")


# ------------------------------------------------------------------------------- work space


class Workspace:
    """A scratch directory on the filesystem under test, removed at the end unless kept."""

    def __init__(self, parent: str | None, keep: bool) -> None:
        if parent:
            os.makedirs(parent, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="signalstore-bench-", dir=parent)
        self.keep = keep
        self._counter = 0

    def fresh(self, label: str) -> str:
        self._counter += 1
        path = os.path.join(self.root, f"{label}-{self._counter}")
        os.makedirs(path)
        return path

    def remove(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
