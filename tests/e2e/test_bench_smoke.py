"""``scripts/bench.py --quick`` runs end to end and reports every row (no timing thresholds:
timings on a shared CI machine prove nothing; the full benchmark is run by hand)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench.py"
ROWS = ["1", "1n", "2", "3", "4", "5", "5a", "6", "7", "8", "9", "10"]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.timeout(360)
def test_quick_benchmark_reports_every_row(tmp_path):
    pytest.importorskip("eventsourcing", reason="rows 5-6 compare against the eventsourcing library")
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out),
                           "--workdir", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads(out.read_text())
    assert result["mode"] == "quick"
    assert result["backend"] == "sqlite"
    rows = {row["id"]: row for row in result["rows"]}
    assert sorted(rows, key=ROWS.index) == ROWS
    for row_id, row in rows.items():
        for field in ("store_s", "baseline_s", "ratio"):
            assert _is_number(row[field]), (row_id, field, row[field])
            assert row[field] > 0, (row_id, field, row[field])
        assert row["target"], row_id
        assert isinstance(row["passed"], bool), row_id
        assert row["checks"], row_id
        assert all(_is_number(c["value"]) for c in row["checks"]), row_id
    assert {h["algorithm"].split()[0] for h in result["hashing"]} == {"blake3", "sha256"}
    assert all(_is_number(h["GB_per_s"]) for h in result["hashing"])
    # the table went to stdout, one line per row
    for row_id in ROWS:
        assert any(line.startswith(row_id + " ") for line in done.stdout.splitlines()), row_id
    # the scratch directory was cleaned up
    assert not any((tmp_path / "work").iterdir())
