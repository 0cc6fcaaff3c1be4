"""benchmarks/storage_layout.py at a tiny size: it builds and keeps a store, copies it into each layout, reports
bytes by table, column and projection and the area searches of each layout (which must return the same rows).
No size or timing is asserted: those are measured by running the benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_layouts_are_measured_and_answer_alike(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(REPO / "benchmarks" / "storage_layout.py"), "--reads", "5000"]
    command += ["--workdir", str(tmp_path), "--area-searches", "3", "--remove"]
    command += ["--variants", "before,after,after_offset_index", "--keys", "keys_before,keys_48bit"]
    done = subprocess.run(command, capture_output=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = orjson.loads(done.stdout)
    assert report["reads"] == 5000
    for name in ("before", "after", "after_offset_index", "keys_before", "keys_48bit"):
        assert report["variants"][name]["bytes_per_read"] > 0, name
    assert "reads_by_hour_place" in report["variants"]["after"]["projections"]
    assert "_parent_part_offset" in report["variants"]["after_offset_index"]["projection_columns"]
    for window in ("1h", "24h"):
        rows = {table: figures[window]["mean_rows"] for table, figures in report["area"].items()}
        assert len(set(rows.values())) == 1, rows
    assert not (tmp_path / "data-5000").exists()
