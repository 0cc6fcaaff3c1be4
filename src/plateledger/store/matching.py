"""Hot-list matching inside the reads store: a mirror of the active entries in chDB, probed by each batch's new reads.

The mirror lives in database ``matching`` of the store's own chDB session (memory only: rebuilt after every open):

- ``matching.plates`` (Set engine): the plates of exact entries; ``matching.keys`` (Set): their confusable keys,
  for lists that match confusables. A batch's committed new reads (``staging.fresh``) are filtered with
  ``plate IN matching.plates OR plate_key IN matching.keys``, a hash probe against a set built once per load.
- ``matching.entries`` (Memory): one row per exact entry with what the match needs (agency, shared, region,
  expiry); joined only against the few candidate reads.
- Pattern entries (``*``, ``?``; at least 3 literal characters) are few: they are compiled into one Hyperscan
  database (``multiMatchAllIndices``) from constant query arrays, which ClickHouse caches between queries.

Why this design, with numbers: docs/architecture.md, "Hot-list matching". The chosen filters run only on reads
actually stored (``staging.fresh``, after de-duplication), so a re-sent read never matches twice.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from plateledger.plates import confusable_key
from plateledger.store import sql

#: A regex that no plate matches (plates have 1-10 characters), for patterns of lists without confusable matching.
_NEVER = "^$"


class MirrorEntry(NamedTuple):
    """An active entry as the mirror holds it. ``plate``: a normalised plate, or a pattern with ``*`` and ``?``."""

    entry_id: int
    agency: int
    shared: bool
    plate: str
    pattern: bool
    region: str | None
    confusable: bool
    expires_ms: int


@dataclass(frozen=True)
class Match:
    """A committed read that matched an entry of the mirror. ``how``: exact, pattern or confusable."""

    batch: int
    entry_id: int
    owner: int
    read_id: str
    plate: str
    region: str | None
    ts_ms: int
    camera: str
    lat: float | None
    lon: float | None
    confidence: float | None
    how: str
    #: The read's vehicle ('' where not given).
    make: str = ""
    model: str = ""
    color: str = ""
    vtype: str = ""


def pattern_regex(pattern: str) -> str:
    """A normalised wildcard pattern (A-Z 0-9 * ?) as an anchored regular expression."""
    return "^" + pattern.replace("*", ".*").replace("?", ".") + "$"


MIRROR_SCHEMA = [
    "CREATE DATABASE IF NOT EXISTS matching",
    "DROP TABLE IF EXISTS matching.entries SYNC",
    "DROP TABLE IF EXISTS matching.plates SYNC",
    "DROP TABLE IF EXISTS matching.keys SYNC",
    "CREATE TABLE matching.entries (entry_id UInt64, agency UInt32, shared UInt8, plate String, key String, "
    "region String, confusable UInt8, expires_ms Int64) ENGINE = Memory",
    "CREATE TABLE matching.plates (plate String) ENGINE = Set SETTINGS persistent = 0",
    "CREATE TABLE matching.keys (key String) ENGINE = Set SETTINGS persistent = 0",
]


_TSV_STRUCTURE = (
    "entry_id UInt64, agency UInt32, shared UInt8, plate String, region String, confusable UInt8, expires_ms Int64"
)


class Mirror:
    """The store's mirror of the active entries. All calls run under the store's write lock."""

    def __init__(
        self,
        query: Callable[..., Any],
        rows: Callable[..., list[list[Any]]],
        tmp: Path,
    ) -> None:
        self._query = query
        self._rows = rows
        self._tmp = tmp
        self._exact = 0
        self._patterns: list[MirrorEntry] = []

    @property
    def size(self) -> int:
        return self._exact + len(self._patterns)

    def load(self, entries: Iterable[MirrorEntry]) -> None:
        """Replace the mirror's content with ``entries``."""
        for statement in MIRROR_SCHEMA:
            self._query(statement)
        self._exact, self._patterns = 0, []
        self.update(add=entries, remove=())

    def update(self, *, add: Iterable[MirrorEntry], remove: Collection[int]) -> None:
        """Remove the entries with ids in ``remove``, then add ``add``. The plate sets keep removed plates (a
        ``Set`` table has no delete): a stale plate only makes a read a candidate, which the join against
        ``matching.entries`` then drops."""
        patterns_before = [p.entry_id for p in self._patterns]
        if remove:
            self._query(f"ALTER TABLE matching.entries DELETE WHERE entry_id IN {_ints(sorted(remove))}")
            self._patterns = [p for p in self._patterns if p.entry_id not in remove]
        added = 0
        with tempfile.NamedTemporaryFile(dir=self._tmp, suffix=".tsv", delete=False) as handle:
            path = Path(handle.name)
            lines = []
            for e in add:
                if e.pattern:
                    self._patterns.append(e)
                    continue
                added += 1
                # Plates are A-Z 0-9 and regions A-Z 0-9 -: nothing to escape in TabSeparated.
                lines.append(
                    f"{e.entry_id}\t{e.agency}\t{int(e.shared)}\t{e.plate}\t{e.region or ''}\t"
                    f"{int(e.confusable)}\t{e.expires_ms}\n"
                )
                if len(lines) == 100_000:
                    handle.write("".join(lines).encode())
                    lines = []
            handle.write("".join(lines).encode())
        try:
            if added:
                quoted = str(path).replace("\\", "\\\\").replace("'", "\\'")
                source = f"file('{quoted}', 'TabSeparated', '{_TSV_STRUCTURE}')"
                key = sql.FOLD.format("plate")
                self._query(
                    "INSERT INTO matching.entries SELECT entry_id, agency, shared, plate, "
                    f"{key}, region, confusable, expires_ms FROM {source}"
                )
                self._query(f"INSERT INTO matching.plates SELECT plate FROM {source}")
                self._query(f"INSERT INTO matching.keys SELECT {key} FROM {source} WHERE confusable")
        finally:
            path.unlink(missing_ok=True)
        if remove or added:
            self._exact = int(self._rows("SELECT count() FROM matching.entries")[0][0])
        if self._patterns and [p.entry_id for p in self._patterns] != patterns_before:
            # Compile the Hyperscan databases now, not in the next batch's match.
            compile_both = (
                "multiMatchAllIndices('', {pats:Array(String)}), multiMatchAllIndices('', {kpats:Array(String)})"
            )
            self._rows(f"SELECT {compile_both}", self._pattern_params())

    def _pattern_params(self) -> dict[str, str]:
        """The patterns as query arrays: ``pats`` (one per pattern entry), and ``kpats`` the folded patterns of
        lists that match confusables, with ``kmap`` their index in ``pats``. Hyperscan compiles each distinct
        array once (~3 s for 1,000 patterns, measured) and caches it, so the arrays change only on a load."""
        folded = [(n, p) for n, p in enumerate(self._patterns, start=1) if p.confusable]
        return {
            "pats": sql_array([pattern_regex(p.plate) for p in self._patterns]),
            "kpats": sql_array([pattern_regex(confusable_key(p.plate)) for _, p in folded] or [_NEVER]),
            "kmap": _ints([n for n, _ in folded] or [0]),
        }

    def match(self, committed: int, now_ms: int) -> list[Match]:
        """The matches of the reads of ``staging.fresh`` from batches below ``committed`` (those stored)."""
        if not self.size:
            return []
        params: dict[str, Any] = {"committed": committed}
        probes = ["plate IN matching.plates", "plate_key IN matching.keys"]
        pattern_columns = ""
        if self._patterns:
            params.update(self._pattern_params())
            pattern_columns = (
                ", multiMatchAllIndices(plate, {pats:Array(String)}) AS pi"
                ", arrayMap(i -> {kmap:Array(UInt32)}[i], multiMatchAllIndices(plate_key, {kpats:Array(String)})) AS ki"
            )
            probes += ["notEmpty(pi)", "notEmpty(ki)"]
        select = (
            "SELECT batch, owner, plate, plate_key, region, ts, camera, lat, lon, confidence, "
            "make, model, color, vtype, "
            f"{sql.EFFECTIVE_READ_ID} AS rid{pattern_columns} FROM staging.fresh "
            f"WHERE batch < {{committed:UInt32}} AND ({' OR '.join(probes)})"
        )
        if not self._patterns:
            # Exact and confusable entries only: the candidates are a subquery of the one match statement (two set
            # probes over the pass's new reads), not a table made, counted and dropped (three statements).
            return _matches(
                self._rows(self._match_sql(f"({select})", pattern_hits=False), {**params, "now_ms": now_ms})
            )
        self._query(f"CREATE TABLE staging.cand ENGINE = Memory AS {select}", params)
        try:
            # How many candidates, and how many of them a pattern hit: the pattern parts of the match query carry
            # every pattern's fields as parameter arrays (~10 ms to parse at 1,000 patterns), so they are left out
            # when no candidate needs them (most batches: their candidates are exact or confusable hits).
            hits = "countIf(notEmpty(pi) OR notEmpty(ki))"
            candidates, pattern_hits = (int(v) for v in self._rows(f"SELECT count(), {hits} FROM staging.cand")[0])
            if not candidates:
                return []
            rows = self._rows(
                self._match_sql("staging.cand", pattern_hits=bool(pattern_hits)),
                {"now_ms": now_ms, **(self._pattern_fields() if pattern_hits else {})},
            )
        finally:
            self._query("DROP TABLE IF EXISTS staging.cand SYNC")
        return _matches(rows)

    def _pattern_fields(self) -> dict[str, str]:
        """Every pattern entry's fields as parameter arrays, for the pattern parts of the match statement."""
        return {
            "p_ids": _ints(p.entry_id for p in self._patterns),
            "p_agency": _ints(p.agency for p in self._patterns),
            "p_shared": _ints(int(p.shared) for p in self._patterns),
            "p_region": sql_array([p.region or "" for p in self._patterns]),
            "p_expires": _ints(p.expires_ms for p in self._patterns),
        }

    @staticmethod
    def _match_sql(cand: str, *, pattern_hits: bool) -> str:
        """The match statement over candidates ``cand`` (a table, or a subquery): each candidate joined with the
        exact and confusable entries of its plate (and, with ``pattern_hits``, with the pattern entries it hit),
        kept where the entry is live, its region fits and its list may see the read's owner; per entry and read
        the best way it matched (exact, pattern, confusable)."""
        names = (
            *("batch", "owner", "rid", "plate", "region", "ts", "camera", "lat", "lon", "confidence"),
            *("make", "model", "color", "vtype"),
        )
        read = ", ".join(f"c.{n} AS {n}" if n != "ts" else "toUnixTimestamp64Milli(c.ts) AS ts_ms" for n in names)
        entry = "e.entry_id, e.agency, e.shared, e.region AS er, e.expires_ms"
        # Exact and confusable entries in one join (a plate's own entry ranks 0; an entry of another plate with
        # the same confusable key, on a list that matches confusables, 2): one join to plan, not two in a union.
        join = (
            f"SELECT {entry}, if(e.plate = c.plate, 0, 2) AS rank, {read} FROM matching.entries AS e "
            f"INNER JOIN {cand} AS c ON e.plate = c.plate OR (e.key = c.plate_key AND e.confusable)"
        )
        order = "ORDER BY batch, entry_id, rank LIMIT 1 BY entry_id, owner, rid"
        if not pattern_hits:
            return (
                f"{join} WHERE e.expires_ms > {{now_ms:Int64}} AND (e.region = '' OR c.region = '' "
                f"OR e.region = c.region) AND (e.shared OR e.agency = c.owner) {order}"
            )
        pattern_entry = (
            "{p_ids:Array(UInt64)}[i] AS entry_id, {p_agency:Array(UInt32)}[i] AS agency, "
            "{p_shared:Array(UInt8)}[i] AS shared, {p_region:Array(String)}[i] AS er, "
            "{p_expires:Array(Int64)}[i] AS expires_ms"
        )
        plain = read.replace("c.", "")
        parts = [
            join,
            f"SELECT {pattern_entry}, 1 AS rank, {plain} FROM {cand} ARRAY JOIN pi AS i",
            f"SELECT {pattern_entry}, 2 AS rank, {plain} FROM {cand} ARRAY JOIN ki AS i",
        ]
        union = " UNION ALL ".join(f"({p})" for p in parts)
        return (
            f"SELECT * FROM ({union}) WHERE expires_ms > {{now_ms:Int64}} "
            f"AND (er = '' OR region = '' OR er = region) AND (shared OR agency = owner) {order}"
        )


def _matches(rows: list[list[Any]]) -> list[Match]:
    hows = ("exact", "pattern", "confusable")
    return [
        Match(
            batch=int(r[6]),
            entry_id=int(r[0]),
            owner=int(r[7]),
            read_id=str(r[8]),
            plate=str(r[9]),
            region=str(r[10]) or None,
            ts_ms=int(r[11]),
            camera=str(r[12]),
            lat=_num(r[13]),
            lon=_num(r[14]),
            confidence=_num(r[15]),
            how=hows[int(r[5])],
            make=str(r[16]),
            model=str(r[17]),
            color=str(r[18]),
            vtype=str(r[19]),
        )
        for r in rows
    ]


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or isinstance(value, str):
        return None
    return round(float(value), 6)


def sql_array(values: Sequence[str]) -> str:
    """A ClickHouse array literal of strings, for a query parameter."""
    return "[" + ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) + "]"


def _ints(values: Iterable[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"
