"""The command line, driven in a subprocess as a user would."""

from __future__ import annotations

import json
import subprocess
import sys


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "signalstore_es", *args], capture_output=True,
                          text=True, timeout=300, check=check)


def test_demo_builds_and_queries_a_project(tmp_path):
    result = run("demo", "--root", str(tmp_path))
    assert "commit seq=2" in result.stdout and "marked for deletion" in result.stdout


def test_find_prints_json_lines_when_piped(tmp_path):
    run("demo", "--root", str(tmp_path))
    result = run("find", "demo", '{"schema_ref": "session"}', "--root", str(tmp_path))
    names = sorted(json.loads(line)["data_name"] for line in result.stdout.splitlines())
    assert names == ["2024-04-28-AM-Animal1", "2024-04-29-AM-Animal1"]


def test_rebuild_reports_the_replay(tmp_path):
    run("demo", "--root", str(tmp_path))
    result = run("rebuild", "demo", "--root", str(tmp_path))
    assert "from 2 commits" in result.stdout


def test_errors_print_one_line_and_exit_non_zero(tmp_path):
    result = run("find", "demo", '{"$where": "1"}', "--root", str(tmp_path), check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_bad_json_is_a_usage_error(tmp_path):
    result = run("find", "demo", "{not json", "--root", str(tmp_path), check=False)
    assert result.returncode == 2 and "not valid JSON" in result.stderr
