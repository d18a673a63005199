"""The README's usage example runs as written (on the embedded store)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_the_usage_example_runs_and_finds_the_array(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(python_blocks("Usage")[0], "README.md", "exec"), namespace)
    assert namespace["receipt"].seq == 1 and namespace["array"].sizes["spike_idx"] == 1000
