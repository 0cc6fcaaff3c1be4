"""The benchmark's workload generator never writes two reads the store would count as one (the same camera,
time and plate: the read id generated from them is the same), whatever the weekday of the clock. A duplicate
made a fresh clone's ``test_bench_run`` store fewer reads than generated on some weekdays."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import orjson
import pytest

from plateledger.agencies.registry import CameraInfo

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# Early in the UTC day: the cameras (near San Francisco) are at 17:17 local time of the day before.
MONDAY = dt.datetime(2026, 11, 30, 1, 17, 12, 345, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def workload() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import workload

        yield workload
    finally:
        sys.path.remove(str(BENCHMARKS))


def small_network(workload: ModuleType, cameras: int, owners: int) -> object:
    infos = [
        CameraInfo(f"cam-{i:03d}", f"camera {i}", False, 37.7 + i * 0.01, -122.4 + i * 0.01) for i in range(cameras)
    ]
    camera_owner = np.arange(cameras, dtype=np.int64) % owners
    tokens = workload.Tokens(investigator="i", device="d")
    slugs = [f"owner-{i}" for i in range(owners)]
    return workload.Network(1, list(range(1, owners + 1)), slugs, slugs, infos, camera_owner, tokens, owners, 0)


@pytest.mark.parametrize("day", range(7), ids=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
def test_no_duplicate_reads_on_any_weekday(
    workload: ModuleType, tmp_path: Path, day: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workload, "GEN_CHUNK", 1_500)  # several chunks: no duplicate across chunks either
    now_ms = int((MONDAY + dt.timedelta(days=day)).timestamp() * 1000)
    network = small_network(workload, cameras=6, owners=2)
    reads = 6_000
    # A few popular vehicles on six cameras: many reads of one vehicle at one camera on one day.
    _, files, _ = workload.generate(
        tmp_path, network, np.random.default_rng(day), reads, 12, compress=False, now_ms=now_ms
    )
    assert sum(count for _, count in files) == reads
    seen: set[tuple[str, int]] = set()
    for path, _ in files:
        for line in path.read_bytes().splitlines():
            read = orjson.loads(line)
            assert now_ms - workload.WINDOW_MS < read["ts"] < now_ms
            seen.add((read["camera"], read["ts"]))
    assert len(seen) == reads  # not even two reads at one camera in one millisecond


def test_distinct_per_camera_even_when_every_read_collides(workload: ModuleType) -> None:
    core = sys.modules["core"]
    camera = np.array([0, 1, 0, 0, 1, 2] * 50, dtype=np.int64)
    same = np.full(len(camera), 1_800_000_000_000, dtype=np.int64)
    seen: set[tuple[int, int]] = set()
    for chunk in range(3):
        ts = core.distinct_per_camera(camera, same, chunk, 3)
        assert (ts >= same - 2).all()
        assert (ts % 3 == chunk).all()
        seen.update(zip(camera.tolist(), ts.tolist(), strict=True))
    assert len(seen) == 3 * len(camera)
