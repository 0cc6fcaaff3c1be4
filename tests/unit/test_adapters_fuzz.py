"""Fuzzing the adapters with mutated real payloads: each returns Adapted or refuses with a 4xx PlateledgerError,
never another exception, never a hang (hypothesis' deadline fails an example that takes over a second).

The budget is fixed (``max_examples`` per seed payload, derandomised) so CI runs the same examples every time.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plateledger.adapters import SOURCES, Adapted, adapter, blueiris, openalpr, platerecognizer
from tests.unit import openalpr_payloads as oa
from tests.unit.adapters_support import adapts_or_refuses, multipart, mutated, sample

JSON = "application/json"
FUZZ = settings(
    max_examples=60,
    deadline=1000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS: list[tuple[str, Callable[[bytes, str], Adapted], bytes]] = [
    *[
        (f"openalpr-{build.__name__}", openalpr.adapt_each_frame, orjson.dumps(build()))
        for build in (oa.group_v2, oa.group_v3, oa.alert_v3, oa.results_v2, oa.vehicle_v3, oa.heartbeat)
    ],
    *[
        (name, platerecognizer.adapt, sample(name))
        for name in (
            "platerecognizer_snapshot_response_from_docs.json",
            "platerecognizer_stream_webhook_recognition_from_webhook_tester.json",
        )
    ],
    *[
        (name, blueiris.adapt, sample(name))
        for name in ("algertc_ALPR-Database_test-payload.json", "algertc_ALPR-Database_multi-ai-payload.json")
    ],
]


@pytest.mark.parametrize(("name", "adapt", "seed"), SEEDS, ids=[s[0] for s in SEEDS])
@FUZZ
@given(data=st.data())
def test_mutated_payloads_adapt_or_refuse(
    name: str, adapt: Callable[[bytes, str], Adapted], seed: bytes, data: st.DataObject
) -> None:
    adapts_or_refuses(adapt, data.draw(mutated(seed)), JSON)


@pytest.mark.parametrize("module", [openalpr, platerecognizer, blueiris], ids=lambda m: m.__name__)
def test_registry_finds_each_adapter(module: ModuleType) -> None:
    name = module.__name__.rsplit(".", 1)[1]
    assert SOURCES[name] == name
    assert adapter(name) is module.adapt


STREAM = sample("platerecognizer_stream_webhook_recognition_from_webhook_tester.json")
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(16)
MULTIPART = "multipart/form-data; boundary=plateledger-test"


@FUZZ
@given(data=st.data())
def test_mutated_multipart_bodies_adapt_or_refuse(data: st.DataObject) -> None:
    body = multipart([("json", None, None, data.draw(mutated(STREAM))), ("upload", "a.webp", "image/webp", WEBP)])
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(body)))
        body = body[:cut] + data.draw(st.binary(max_size=8)) + body[cut + data.draw(st.integers(0, 40)) :]
    content_type = data.draw(
        st.sampled_from([MULTIPART, "multipart/form-data", "multipart/form-data; boundary=" + "b" * 300])
    )
    adapts_or_refuses(platerecognizer.adapt, body, content_type)


@FUZZ
@given(body=st.binary(max_size=512), content_type=st.sampled_from([JSON, MULTIPART, "text/plain"]))
def test_arbitrary_bytes_are_refused_cleanly(body: bytes, content_type: str) -> None:
    for adapt in (openalpr.adapt, platerecognizer.adapt, blueiris.adapt):
        adapts_or_refuses(adapt, body, content_type)
