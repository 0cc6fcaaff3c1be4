"""Damage to the reads store's parts, as ClickHouse leaves it: detached parts and parts that fail their checksums.

ClickHouse checks each part's files against their sizes when it loads a table; a part that fails (a truncated
file, a missing column) is moved to the table's ``detached/`` directory as ``broken-on-start_<part>`` and the
table opens without it, silently. ``system.detached_parts`` is ClickHouse's scan of those directories. A part
whose bytes changed but not its sizes (a flipped bit) loads, and fails only the query that reads it; ``CHECK
TABLE`` verifies every part's checksums (it reads the whole table: minutes for a billion reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Reasons ClickHouse gives a part it detached itself because the part could not be used.
BROKEN_REASONS = ("broken", "broken-on-start", "unexpected", "covered-by-broken", "noquorum")
TABLES = ("reads", "read_keys")

Rows = Callable[[str, dict[str, Any] | None], list[list[Any]]]


@dataclass(frozen=True)
class DetachedPart:
    """A part in a table's ``detached/`` directory; ``rows``: its row count (``count.txt``) when readable."""

    table: str
    name: str
    reason: str
    path: str
    rows: int | None

    @property
    def broken(self) -> bool:
        return self.reason in BROKEN_REASONS


@dataclass(frozen=True)
class PartFault:
    """An attached part that failed ``CHECK TABLE`` (its checksums), with ClickHouse's message."""

    table: str
    part: str
    message: str
    #: Rows of the part (``system.parts``), and its reads per owner (the id, as text, where the owner column
    #: still reads; ``ops/damage.py`` puts slugs in its place).
    rows: int | None = None
    owners: dict[str, int] | None = None


def _rows_of(path: Path) -> int | None:
    try:
        return int((path / "count.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def detached_parts(rows: Rows) -> list[DetachedPart]:
    """Every detached part of ``reads`` and ``read_keys``."""
    found = rows(
        "SELECT table, name, reason, path FROM system.detached_parts WHERE database = currentDatabase() "
        "AND table IN ('reads', 'read_keys') ORDER BY table, name",
        None,
    )
    return [DetachedPart(str(t), str(n), str(r or ""), str(p), _rows_of(Path(str(p)))) for t, n, r, p in found]


def failed_checks(rows: Rows) -> list[PartFault]:
    """Attached parts of ``reads`` and ``read_keys`` whose files fail their checksums."""
    faults: list[PartFault] = []
    for table in TABLES:
        for part, passed, message in rows(f"CHECK TABLE {table} SETTINGS check_query_single_value_result = 0", None):
            if not int(passed):
                faults.append(_fault(rows, table, str(part), str(message).splitlines()[0][:300]))
    return faults


def _fault(rows: Rows, table: str, part: str, message: str) -> PartFault:
    """A failed part with its row count and, where its ``owner`` column can still be read, its owners."""
    params: dict[str, Any] = {"t": table, "part": part}
    found = rows(
        "SELECT rows FROM system.parts WHERE database = currentDatabase() AND table = {t:String} AND active "
        "AND name = {part:String}",
        params,
    )
    count = int(found[0][0]) if found else None
    owners: dict[str, int] | None = None
    if table == "reads":
        try:
            owners = {
                str(o): int(n)
                for o, n in rows("SELECT owner, count() FROM reads WHERE _part = {part:String} GROUP BY owner", params)
            }
        except Exception:  # noqa: BLE001 - the damage may be in the owner column itself
            owners = None
    return PartFault(table, part, message, count, owners)


def detach(query: Callable[[str, dict[str, Any] | None], Any], rows: Rows, fault: PartFault) -> None:
    """Detach ``fault``'s part and name it ``broken_<part>`` in ``detached/``, as ClickHouse names a part it found
    broken, so it is reported (and kept) like one."""
    if fault.table not in TABLES:
        raise ValueError(f"not a reads-store table: {fault.table}")
    query(f"ALTER TABLE {fault.table} DETACH PART {{part:String}}", {"part": fault.part})
    for name, path in rows(
        "SELECT name, path FROM system.detached_parts WHERE database = currentDatabase() AND table = {t:String} "
        "AND name = {part:String}",
        {"t": fault.table, "part": fault.part},
    ):
        source = Path(str(path))
        source.rename(source.parent / f"broken_{name}")
