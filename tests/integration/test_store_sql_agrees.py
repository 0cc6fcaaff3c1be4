"""The reads store normalises plates in SQL (store/sql.py); it must agree with plateledger.plates.

Hypothesis generates plate strings; each is ingested through the real store and read back through a search.
An exact search matches on both the stored plate and its confusable key, so a read whose SQL-computed plate
or key differs from the Python functions' is not found; a fuzzy search by the folded key checks the key alone.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plateledger.core.errors import FieldInvalid
from plateledger.plates import confusable_key, normalise, validate_plate
from plateledger.platform import Platform
from tests.support import (
    AgencyKit,
    ingest,
    module_platform,
    read,
    search,
    seed_agency,
)

_read_ids = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, AgencyKit]]:
    """One platform for every generated example (hypothesis must not share function-scoped fixtures)."""
    with module_platform(tmp_path_factory, "agree") as platform:
        yield platform, seed_agency(platform, "agree", roles=("investigator",))


plates = st.one_of(
    # Characters of Unicode's first planes, assigned long ago: Python's unicodedata and ClickHouse's RE2 and ICU
    # tables (of other Unicode versions) class them alike.
    st.text(st.characters(max_codepoint=0x2FFF, exclude_categories=("Cs", "Cn", "Co")), max_size=70),
    st.text(alphabet=string.ascii_letters + string.digits + " -.·ÖO0äüéÑАХΡß\t\u0301\u200b京", max_size=14),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=plates)
@example(raw="abc 123")
@example(raw="7-ÄBC.123")
@example(raw='a"b\\c\n1\u0000')  # escapes take the JSON-decoding path
@example(raw="Ä" * 40 + "AB1")  # 43 characters, 83 bytes: within the 64-character limit
@example(raw="A" * 65)
@example(raw="1946éSH")
@example(raw="МÜ-А 123")  # Cyrillic М and А beside a German Ü
@example(raw="STRAßE1")
@example(raw="AB\t12")
@example(raw="Ж" * 3)
def test_store_normalises_like_plates_module(store: tuple[Platform, AgencyKit], raw: str) -> None:
    platform, kit = store
    read_id = f"agree-{next(_read_ids)}"
    result = ingest(platform, kit, [read(raw, camera=kit.cameras[0], read_id=read_id)])

    expected = normalise(raw)
    try:
        validate_plate(raw)
        refusal = "plate: longer than 64 characters" if len(raw) > 64 else None
    except FieldInvalid as refused:
        refusal = "plate: longer than 64 characters" if len(raw) > 64 else refused.detail
    if refusal is not None:
        assert result.stored == 0
        assert [reason for _, reason in result.rejected] == [refusal]
        return
    assert (result.stored, result.rejected) == (1, [])

    exact = [r for r in search(platform, kit.investigator, expected).reads if r.read_id == read_id]
    assert len(exact) == 1, f"stored plate of {raw!r} differs from {expected!r}"
    assert exact[0].plate == expected
    assert exact[0].plate_raw == raw

    folded = confusable_key(expected)
    fuzzy = search(platform, kit.investigator, folded, fuzzy=True).reads
    assert read_id in {r.read_id for r in fuzzy}, f"stored key of {raw!r} differs from {folded!r}"
