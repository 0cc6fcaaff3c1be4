"""ClickHouse SQL of the reads store: schema, and the canonical-read validation that runs inside the engine.

Validation runs in SQL so that bulk ingest parses each JSON line once, in C++, instead of in Python; the
rules are the canonical read of docs/ingest.md and mirror ``plateledger.plates``. Each rejected line gets the
first rule it breaks, as ``field: rule``.
"""

from __future__ import annotations

import re

from plateledger.plates import CONFUSABLE_FROM, CONFUSABLE_TO, FOREIGN_RULE, MAP_FROM, MAP_TO, MAX_PLATE, PLATE_ALPHABET

MAX_STRING = 64
#: Earliest accepted read time. Older stamps are clock faults, and ClickHouse's DateTime64 range starts at 1900.
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z

#: MergeTree settings of both tables that make superseded parts leave the disk within about a second: a mutation
#: (retention's ``ALTER TABLE ... DELETE``) or a merge writes new parts, and the old ones, which still hold the
#: deleted rows, are removed by the table's cleanup thread. ClickHouse's defaults keep them 8 minutes and wake the
#: thread every 30-40 s (backing off to 5 minutes); chDB already defaults ``old_parts_lifetime`` to 0.
#: Applied to existing tables on open (``ReadsStore._apply_part_settings``).
PART_SETTINGS = {
    "old_parts_lifetime": "0",
    "cleanup_delay_period": "1",
    "max_cleanup_delay_period": "1",
    "cleanup_delay_period_random_add": "0",
}
#: Compressed blocks of 8-64 KiB instead of ClickHouse's 64 KiB-1 MiB, in both tables. Both are read by point
#: lookups (one plate's rows in ``reads``; one batch's keys in ``read_keys``), and a lookup decompresses each block
#: it touches whole: with the defaults one plate's few rows cost up to 1 MiB per column per part. Measured in
#: docs/benchmarks.md ("Third pass"). Parts written before the setting keep their blocks until they are merged.
LOOKUP_BLOCKS = {"min_compress_block_size": "8192", "max_compress_block_size": "65536"}
#: Compression of both tables: a column without a ``CODEC`` clause, and every column of a projection (projection
#: parts take no column codecs), is compressed with ZSTD(3) instead of the engine's default (LZ4 for parts below a
#: size, so every fresh part; ZSTD(3) for large merged ones); merges and mutations then try, per block of such a
#: column, the codecs suited to its type (Gorilla, FPC, T64, Delta, ...) and keep the smallest output, which is
#: lossless like any codec. With the column codecs below: 34.1 -> 22.6 bytes per read of ``reads`` at 1M,
#: the area projection 19.1 -> 10.6 (docs/benchmarks.md, "Performance II, second pass").
COMPRESSION = {"default_compression_codec": "'ZSTD(3)'", "enable_adaptive_codec_selection": "1"}
#: The settings ``ReadsStore._apply_part_settings`` gives existing tables (all can be changed in place).
TABLE_SETTINGS = {**PART_SETTINGS, **LOOKUP_BLOCKS, **COMPRESSION}
_TABLE_SETTINGS_SQL = ", ".join(f"{name} = {value}" for name, value in TABLE_SETTINGS.items())

#: The source's own time and confidence, exactly as sent (vendor adapters; '' when absent), kept with the read so
#: a normalisation can be checked against the original. Added to older tables by ``ReadsStore._upgrade``.
#: Confidence values repeat (a few hundred distinct spellings): LowCardinality. Times are unique per read: ZSTD.
SOURCE_COLUMNS = {
    "source_ts": "String CODEC(ZSTD(3))",
    "source_confidence": "LowCardinality(String) CODEC(ZSTD(3))",
}

#: Each column of ``reads`` and its type with codec, in table order (the source columns last). A column without a
#: ``CODEC`` gets the tables' default (``COMPRESSION``) and the codec merges find smallest per block: the floats,
#: ``ingest_ts`` and the LowCardinality columns. ``ts`` in plate order: T64 (drops the bits every value of a block
#: shares) before ZSTD beat Delta. ``ReadsStore._upgrade`` gives an older table these codecs (new parts and merges
#: use them; a codec change rewrites nothing).
READS_COLUMN_TYPES = {
    "plate_key": "String CODEC(ZSTD(3))",
    "plate": "String CODEC(ZSTD(3))",
    "ts": "DateTime64(3, 'UTC') CODEC(T64, ZSTD(3))",
    "owner": "UInt32 CODEC(ZSTD(3))",
    "camera": "LowCardinality(String)",
    "plate_raw": "String CODEC(ZSTD(3))",
    "read_id": "String CODEC(ZSTD(3))",
    "region": "LowCardinality(String)",
    "lat": "Float32",
    "lon": "Float32",
    "confidence": "Float32",
    "make": "LowCardinality(String)",
    "model": "LowCardinality(String)",
    "color": "LowCardinality(String)",
    "vtype": "LowCardinality(String)",
    "direction": "Float32",
    "source": "LowCardinality(String)",
    "ingest_ts": "DateTime64(3, 'UTC')",
    **SOURCE_COLUMNS,
}


def codec_of(kind: str) -> str:
    """The ``CODEC(...)`` clause of a column type ('' when it has none)."""
    return kind[kind.index("CODEC(") :] if "CODEC(" in kind else ""


def same_codec(stored: str, wanted: str) -> bool:
    """Whether ``system.columns.compression_codec`` ``stored`` is the codec clause ``wanted`` (the engine writes
    Delta's and DoubleDelta's byte width, ``Delta(8)``, which a declaration may leave out)."""
    return re.sub(r"(Delta)\(\d+\)", r"\1", stored) == re.sub(r"(Delta)\(\d+\)", r"\1", wanted)


def columns_ddl(types: dict[str, str]) -> str:
    """The column list of a CREATE TABLE from (name, type) pairs."""
    return ",\n        ".join(f"{name} {kind}" for name, kind in types.items())


READS_COLUMNS = columns_ddl(READS_COLUMN_TYPES)

#: Area search reads a time window around a place: a second copy of the columns a read returns, kept by ClickHouse
#: with each part and ordered by (hour, latitude, longitude, time), so a query reads only the hours of its window
#: and, inside each hour, the latitude band of its box (``area_sql`` states the hour bounds so the key applies).
#: Inside an (hour, place) run the position, camera and owner repeat and compress to almost nothing; the
#: folded ``plate_key`` (plate search's key, not returned) is left out. Measured in docs/benchmarks.md.
AREA_PROJECTION_NAME = "reads_by_hour_place"
#: The columns of a stored read, in the order ingest inserts them.
STORED_COLUMNS = (
    "plate_key, plate, ts, owner, camera, plate_raw, read_id, region, lat, lon, confidence, "
    "make, model, color, vtype, direction, source, ingest_ts, source_ts, source_confidence"
)
AREA_PROJECTION_COLUMNS = STORED_COLUMNS.removeprefix("plate_key, ")
AREA_PROJECTION = (
    f"PROJECTION {AREA_PROJECTION_NAME} (SELECT {AREA_PROJECTION_COLUMNS} ORDER BY (toStartOfHour(ts), lat, lon, ts))"
)
#: Projections of earlier versions, replaced by ``AREA_PROJECTION`` when a store is opened.
OLD_AREA_PROJECTIONS = ("reads_by_time",)
#: A lightweight ``DELETE`` drops the projection from the parts it touches (those parts are then read in plate
#: order: answers stay right, area search gets slower). ClickHouse's default refuses such deletes; 'rebuild' was
#: measured (chDB 4.4 / ClickHouse 26.9) to keep returning deleted rows through the projection until a merge.
#: Retention should use ``ALTER TABLE reads DELETE`` (a mutation), which rewrites parts with their projections.
READS_SETTINGS = f"index_granularity = 8192, lightweight_mutation_projection_mode = 'drop', {_TABLE_SETTINGS_SQL}"


#: ``read_keys`` granules: a batch's 1,000 keys are hashes spread over the whole table, so each key costs one granule
#: read; 1,024 rows per granule instead of 8,192 cut that eightfold for 100 KiB of index per million keys. A table
#: made with another granularity is rebuilt from ``reads`` when the store is opened (``ReadsStore._upgrade``).
READ_KEYS_GRANULARITY = 1024
READ_KEYS_SETTINGS = f"index_granularity = {READ_KEYS_GRANULARITY}, {_TABLE_SETTINGS_SQL}"
#: Sorted hashes: Delta leaves the gaps, T64 drops their common high bits (-8% against Delta alone; with keys of
#: ``READ_KEY_BITS`` the high 16 bits are zero and T64 drops them too).
READ_KEY_CODEC = "CODEC(Delta, T64, ZSTD(3))"
# One row per stored read: (owner, the low ``READ_KEY_BITS`` of the hash of its read id). A new read whose key is
# there is only a candidate duplicate, verified against ``reads`` (``fresh_select``), so the same (owner, read id)
# is never stored twice and a distinct read is never refused. Rebuilt from ``reads`` if a crash left the two apart,
# or if its keys are wider than ``READ_KEY_BITS`` (a store made before the keys were narrowed).
READ_KEYS_DDL = f"""
    CREATE TABLE IF NOT EXISTS read_keys
    (
        owner UInt32,
        key   UInt64 {READ_KEY_CODEC}
    )
    ENGINE = MergeTree
    ORDER BY (owner, key)
    SETTINGS {READ_KEYS_SETTINGS}
    """


#: The codec of each ``read_keys`` column ('' for the tables' default), as ``ReadsStore._upgrade`` sets them.
READ_KEYS_CODECS = {"owner": "", "key": READ_KEY_CODEC}


def reads_table_ddl(
    name: str = "reads", *, projection: str = f", {AREA_PROJECTION}", columns: str = READS_COLUMNS
) -> str:
    """CREATE TABLE of the reads table (``projection``: extra definitions after the columns; ``columns``: the
    column list; the benchmarks of docs/benchmarks.md build their variants from these)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {name} ({columns}{projection}) "
        f"ENGINE = MergeTree ORDER BY (plate_key, plate, ts) SETTINGS {READS_SETTINGS}"
    )


SCHEMA = [
    reads_table_ddl(),
    READ_KEYS_DDL,
]

#: The read id a read is known by: the one it was sent with, else one generated from camera + time + plate.
EFFECTIVE_READ_ID = "if(read_id != '', read_id, lower(hex(cityHash64(camera, toUnixTimestamp64Milli(ts), plate))))"
#: A read's 64-bit hash: what the ingest journal (``store/journal.py``) records of each read a pass inserts.
READ_KEY = f"cityHash64(owner, {EFFECTIVE_READ_ID})"
#: Bits of ``READ_KEY`` kept in ``read_keys``. Narrower keys take fewer bytes (sorted and delta-coded, about
#: (bits - log2(reads)) / 8 + 0.3 bytes a key) and make more candidates to verify: a new read's key is already
#: there with probability reads / 2**bits (one owner's reads). 48 bits: 4.2 bytes/read at 10M against 6.2 for 64;
#: 3.6e-7 candidates a read at 100M, 3.6e-6 at 1B (docs/benchmarks.md, "Performance II, third pass").
READ_KEY_BITS = 48


def key_mask(bits: int) -> int:
    """The largest key of ``bits`` bits."""
    return (1 << bits) - 1


def narrow_key(bits: int = READ_KEY_BITS, full: str = READ_KEY) -> str:
    """The ``read_keys`` key of a row: the low ``bits`` of ``READ_KEY`` (or of ``full``, a column holding it)."""
    return full if bits >= 64 else f"bitAnd({full}, {key_mask(bits)})"


def fresh_select(bits: int = READ_KEY_BITS) -> str:
    """The ingest pass's de-duplication, first step: the valid rows of ``staging.parsed``, the first of each
    (owner, effective read id) in (batch, line) order, with ``READ_KEY`` as ``key`` and ``hit``: whether the row's
    key of ``bits`` bits is in ``read_keys``. A row without a hit is new; a row with one is a candidate, a
    duplicate only if a stored read of the same owner has the same effective read id (``CONFIRMED_BY_TIME`` or
    ``CONFIRMED_BY_PLATE``, then ``CONFIRMED_BY_READ_ID``), which the pass looks up only when it has candidates.
    Query parameter: ``owners`` Array(UInt32)."""
    key = narrow_key(bits)
    hits = (
        f"(SELECT owner, key FROM read_keys WHERE owner IN {{owners:Array(UInt32)}} AND key IN "
        f"(SELECT {key} FROM staging.parsed WHERE reason = ''))"
    )
    return (
        f"SELECT batch, {STORED_COLUMNS}, {READ_KEY} AS key, (owner, {key}) IN {hits} AS hit FROM staging.parsed "
        f"WHERE reason = '' ORDER BY batch, idx LIMIT 1 BY owner, {EFFECTIVE_READ_ID}"
    )


_CANDIDATES = f"(SELECT owner, {EFFECTIVE_READ_ID} FROM staging.fresh WHERE hit)"
#: A pass whose valid reads span at most this long (ms) looks its candidates up by time (``CONFIRMED_BY_TIME``),
#: else by plate: a thousand plates lie in most granules of a plate-ordered part (a re-sent batch of 1,000 reads
#: from the whole of a 10M store: 718 ms by plate; the newest 1,000 by time: 18 ms), and a re-sent batch spans
#: minutes; a week of reads is a fraction of a store kept for months.
TIME_LOOKUP_MS = 7 * 24 * 3_600_000
#: The candidates of ``staging.fresh`` that a stored read of the same owner, read between the parameters
#: ``since_ms`` and ``until_ms`` (the pass's oldest and newest valid read), has the read id of. Read from the area
#: projection, ordered by hour: the hours of the pass only; the read id is computed only for the rows whose time
#: is a candidate's. Every re-sent read of the pass is there but one sent again with its read id and another time.
CONFIRMED_BY_TIME = (
    f"SELECT DISTINCT owner, {EFFECTIVE_READ_ID} FROM reads WHERE owner IN {{owners:Array(UInt32)}} "
    "AND toStartOfHour(ts) BETWEEN toStartOfHour(fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')) "
    "AND toStartOfHour(fromUnixTimestamp64Milli({until_ms:Int64}, 'UTC')) "
    "AND ts BETWEEN fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Milli({until_ms:Int64}, 'UTC') AND ts IN (SELECT ts FROM staging.fresh WHERE hit) "
    f"AND (owner, {EFFECTIVE_READ_ID}) IN {_CANDIDATES}"
)
#: The candidates of ``staging.fresh`` (``hit``) that a stored read of the same plate and time has the read id of:
#: every re-sent read but one sent again with its read id and another plate or time (a generated read id hashes
#: both). ``reads`` is ordered by (plate, time): one granule per part and plate, and the read id is computed only
#: for the rows whose plate and time match.
CONFIRMED_BY_PLATE = (
    f"SELECT DISTINCT owner, {EFFECTIVE_READ_ID} FROM reads WHERE owner IN {{owners:Array(UInt32)}} "
    "AND (plate_key, plate, ts) IN (SELECT plate_key, plate, ts FROM staging.fresh WHERE hit) "
    f"AND (owner, {EFFECTIVE_READ_ID}) IN {_CANDIDATES}"
)
#: The candidates the plate or time did not confirm (not in the parameter ``confirmed``
#: Array(Tuple(UInt32, String))): (owner, read id as sent, effective read id).
UNCONFIRMED = (
    f"SELECT owner, read_id, {EFFECTIVE_READ_ID} AS id FROM staging.fresh WHERE hit "
    "AND (owner, id) NOT IN {confirmed:Array(Tuple(UInt32, String))}"
)
#: Which of the parameter ``ids`` (Array(Tuple(UInt32, String)): owner, effective read id of candidates nothing
#: else confirmed) a stored read of the same owner was sent with: a scan of the owners' ``read_id`` column, run
#: only for a key collision or a read id sent again with another plate and time (about reads / 2**bits of new
#: reads).
CONFIRMED_BY_READ_ID = (
    "SELECT DISTINCT owner, read_id FROM reads WHERE owner IN {owners:Array(UInt32)} AND read_id != '' "
    "AND (owner, read_id) IN {ids:Array(Tuple(UInt32, String))}"
)
#: Which of ``ids`` (candidates sent with a read id of the generated form, which nothing else confirmed) a stored
#: read sent without a read id got as its generated one: a scan that hashes the owners' reads, run only for such
#: an id. Two reads without a sent id whose generated ids are the same hash of different plates are both stored:
#: they are different reads.
CONFIRMED_BY_GENERATED_ID = (
    f"SELECT DISTINCT owner, {EFFECTIVE_READ_ID} FROM reads WHERE owner IN {{owners:Array(UInt32)}} "
    f"AND read_id = '' AND (owner, {EFFECTIVE_READ_ID}) IN {{ids:Array(Tuple(UInt32, String))}}"
)
#: A read id of the form a generated one has (``EFFECTIVE_READ_ID``).
GENERATED_ID = re.compile(r"[0-9a-f]{16}")


def _owner_cutoff(name: str) -> str:
    """The cutoff of each read's owner from parallel arrays ``owners`` and ``name`` (epoch 0 for other owners)."""
    cutoff_ms = f"transform(owner, {{owners:Array(UInt32)}}, {{{name}:Array(Int64)}}, toInt64(0))"
    return f"fromUnixTimestamp64Milli({cutoff_ms}, 'UTC')"


#: Retention. Query parameters: ``owners`` Array(UInt32) with one ``cutoffs`` and one ``hit_cutoffs`` entry each
#: (epoch ms; owners not listed keep everything), ``held`` Array(Tuple(UInt32, String)): (owner, read id) of the
#: reads linked to an alert or a case. The values are inlined into the mutation, so a mutation resumed after a
#: crash needs nothing that died with the process.
HELD = f"(owner, {EFFECTIVE_READ_ID}) IN {{held:Array(Tuple(UInt32, String))}}"
#: A read past its owner's limit: older than the hit cutoff, or older than the normal cutoff and not held.
EXPIRED = f"(ts < {_owner_cutoff('hit_cutoffs')} OR (ts < {_owner_cutoff('cutoffs')} AND NOT {HELD}))"
#: A read past the normal cutoff that a hold keeps until the hit cutoff.
KEPT_BY_HOLD = f"(ts >= {_owner_cutoff('hit_cutoffs')} AND ts < {_owner_cutoff('cutoffs')} AND {HELD})"
_ASCII_PAIRS = [(a, b) for a, b in zip(CONFUSABLE_FROM, CONFUSABLE_TO, strict=True) if a.isascii()]
#: The confusable fold of ``plates.confusable_key``: ``translate`` (bytes) for ASCII plates, ``translateUTF8`` for
#: plates with Ä Ö Ü.
FOLD = (
    "if(length({0}) = lengthUTF8({0}), "
    f"translate({{0}}, '{''.join(a for a, _ in _ASCII_PAIRS)}', '{''.join(b for _, b in _ASCII_PAIRS)}'), "
    f"translateUTF8({{0}}, '{CONFUSABLE_FROM}', '{CONFUSABLE_TO}'))"
)
#: ASCII characters that are separators (``plates.SEPARATOR_CATEGORIES``: every printable one but A-Z a-z 0-9).
_ASCII_SEPARATORS = "[\\\\x20-\\\\x2f\\\\x3a-\\\\x40\\\\x5b-\\\\x60\\\\x7b-\\\\x7e]"
#: ``plates.normalise`` of the JSON string ``plate_s``: an ASCII plate upper-cased without separators; any other
#: NFC-composed, mapped by ``plates.CHAR_MAP`` and without separators (RE2's \p{Z} \p{P} \p{S}). Not UTF-8: ''
#: (the line is refused as such first).
PLATE_NORMALISED = (
    f"multiIf(length(plate_s) = lengthUTF8(plate_s), upper(replaceRegexpAll(plate_s, '{_ASCII_SEPARATORS}', '')), "
    f"isValidUTF8(plate_s), replaceRegexpAll(translateUTF8(normalizeUTF8NFC(plate_s), '{MAP_FROM}', '{MAP_TO}'), "
    "'[\\\\p{Z}\\\\p{P}\\\\p{S}]', ''), '')"
)


def _code_point(char: str) -> str:
    """The code point of the one-character UTF-8 string ``char``, as ``plates.describe`` writes it (U+XXXX)."""
    byte = [f"toUInt32(reinterpretAsUInt8(substring({char}, {i}, 1)))" for i in (1, 2, 3, 4)]
    value = (
        f"multiIf(length({char}) = 1, {byte[0]}, "
        f"length({char}) = 2, bitOr(bitShiftLeft(bitAnd({byte[0]}, 31), 6), bitAnd({byte[1]}, 63)), "
        f"length({char}) = 3, bitOr(bitOr(bitShiftLeft(bitAnd({byte[0]}, 15), 12), "
        f"bitShiftLeft(bitAnd({byte[1]}, 63), 6)), bitAnd({byte[2]}, 63)), "
        f"bitOr(bitOr(bitShiftLeft(bitAnd({byte[0]}, 7), 18), bitShiftLeft(bitAnd({byte[1]}, 63), 12)), "
        f"bitOr(bitShiftLeft(bitAnd({byte[2]}, 63), 6), bitAnd({byte[3]}, 63))))"
    )
    return f"concat('U+', leftPad(trim(LEADING '0' FROM hex({value})), 4, '0'))"


#: ``plates.describe`` of the first character of ``plate_n`` outside ``plates.PLATE_ALPHABET`` ('' when none).
FOREIGN_CHAR = f"extract(plate_n, '([^{PLATE_ALPHABET}])')"
FOREIGN_DESCRIPTION = (
    "if(match(foreign_c, '\\\\p{C}'), "
    f"{_code_point('foreign_c')}, concat('\"', foreign_c, '\" (', {_code_point('foreign_c')}, ')'))"
)

#: Confidence on 0-1 from ``conf_v`` (Float64, NULL when not sent): sources on 0-100 are scaled down.
CONFIDENCE = "toFloat32(multiIf(conf_v IS NULL, nan, conf_v > 1, conf_v / 100, conf_v))"


#: ISO 8601 date-time with a zone, as accepted for ``ts``.
ISO_TIME = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.,][0-9]{1,9})?)?"
    "(Z|z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)$"
)


def _object_map(json_text: str) -> str:
    """A JSON object's members as Map(name, raw JSON text): the document is parsed once per row."""
    return f"CAST(JSONExtractKeysAndValuesRaw({json_text}), 'Map(String, String)')"


def _raw(field: str, obj: str = "m") -> str:
    return f"{obj}['{field}']"


def _is_str(raw: str) -> str:
    return f"startsWith({raw}, '\"')"


def _is_num(raw: str) -> str:
    return f"match({raw}, '^-?[0-9]')"


def _absent(raw: str) -> str:
    return f"({raw} IN ('', 'null'))"


def _str(raw: str) -> str:
    return f"if(position({raw}, '\\\\') > 0, JSONExtractString({raw}), substring({raw}, 2, length({raw}) - 2))"


def _opt_string_rule(field: str, raw: str, value: str) -> list[tuple[str, str]]:
    return [
        (f"NOT {_absent(raw)} AND NOT {_is_str(raw)}", f"{field}: must be a string"),
        (f"lengthUTF8({value}) > {MAX_STRING}", f"{field}: longer than {MAX_STRING} characters"),
    ]


def _balanced_sum(terms: list[str]) -> str:
    """``a + b + c + ...`` as a balanced tree rather than a 45-deep chain of additions."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_balanced_sum(terms[:half])} + {_balanced_sum(terms[half:])})"


#: Staged lines that are reads: blank lines keep their index (line number) but are not validated or counted.
NON_BLANK_RAW = "(SELECT * FROM staging.raw WHERE notEmpty(trimBoth(line)))"


def parse_select(source_table: str) -> str:
    """SELECT that turns staged raw lines (idx, line) into typed columns plus ``reason`` ('' when valid).

    The source table has ``idx``, ``batch``, ``owner``, ``source`` and ``line``. Query parameters: cam_keys
    Array(String) (``owner/camera`` of every registered camera of the owners present), cam_lat/cam_lon
    Array(Float64) (nan for mobile units), owners Array(UInt32) with their countries Array(String), now_ms Int64,
    max_future_ms Int64, max_bytes UInt64.
    """
    m = "m"
    v = "v"
    plate_raw, ts_raw, cam_raw = _raw("plate"), _raw("ts"), _raw("camera")
    rid_raw, region_raw, lat_raw, lon_raw = (
        _raw("read_id"),
        _raw("region"),
        _raw("lat"),
        _raw("lon"),
    )
    conf_raw, veh_raw = _raw("confidence"), _raw("vehicle")
    sts_raw, sconf_raw = _raw("source_ts"), _raw("source_confidence")
    columns = {
        "plate_s": f"if({_is_str(plate_raw)}, {_str(plate_raw)}, '')",
        "plate_n": PLATE_NORMALISED,
        "foreign_c": FOREIGN_CHAR,
        "ts_s": f"if({_is_str(ts_raw)}, {_str(ts_raw)}, '')",
        "ts_ms": (
            f"if({_is_num(ts_raw)}, toInt64OrNull({ts_raw}), "
            # Strict ISO 8601: hours 00-23, minutes and seconds 00-59, a real calendar date (ClickHouse's
            # best-effort parser would roll 25:00 or February 31 over into the next hour or month).
            f"if(match(ts_s, '{ISO_TIME}') "
            "AND toString(toDateOrNull(substring(ts_s, 1, 10))) = substring(ts_s, 1, 10), "
            # ClickHouse's parser takes neither a lower-case "z" nor a decimal comma, both ISO 8601.
            "toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull("
            "replaceOne(upper(ts_s), ',', '.'), 3, 'UTC')), NULL))"
        ),
        "cam_s": f"if({_is_str(cam_raw)}, {_str(cam_raw)}, '')",
        # transform() looks constant arrays up through a hash table; indexOf() would scan them per row.
        "cam_k": "concat(toString(owner), '/', cam_s)",
        "cam_i": "transform(cam_k, {cam_keys:Array(String)}, arrayEnumerate({cam_keys:Array(String)}), 0)",
        "rid_s": f"if({_is_str(rid_raw)}, {_str(rid_raw)}, '')",
        "region_s": f"upper(trimBoth(if({_is_str(region_raw)}, {_str(region_raw)}, '')))",
        "region_n": (
            "multiIf(region_s = '', '', match(region_s, '^[A-Z]{2}$'), "
            "concat(transform(owner, {owners:Array(UInt32)}, {countries:Array(String)}, ''), '-', region_s), "
            "match(region_s, '^[A-Z]{2}-[A-Z0-9]{1,3}$'), region_s, NULL)"
        ),
        "lat_v": f"if({_is_num(lat_raw)}, toFloat64OrNull({lat_raw}), NULL)",
        "lon_v": f"if({_is_num(lon_raw)}, toFloat64OrNull({lon_raw}), NULL)",
        "conf_v": f"if({_is_num(conf_raw)}, toFloat64OrNull({conf_raw}), NULL)",
        v: _object_map(f"if(startsWith({veh_raw}, '{{'), {veh_raw}, '{{}}')"),
        "make_s": f"if({_is_str(_raw('make', v))}, {_str(_raw('make', v))}, '')",
        "model_s": f"if({_is_str(_raw('model', v))}, {_str(_raw('model', v))}, '')",
        "color_s": f"if({_is_str(_raw('color', v))}, {_str(_raw('color', v))}, '')",
        "type_s": f"if({_is_str(_raw('type', v))}, {_str(_raw('type', v))}, '')",
        "dir_v": f"if({_is_num(_raw('direction', v))}, toFloat64OrNull({_raw('direction', v)}), NULL)",
        "sts_s": f"if({_is_str(sts_raw)}, {_str(sts_raw)}, '')",
        "sconf_s": f"if({_is_str(sconf_raw)}, {_str(sconf_raw)}, '')",
    }
    rules: list[tuple[str, str]] = [
        ("length(line) > {max_bytes:UInt64}", "read: larger than the read size limit"),
        ("NOT isValidUTF8(line)", "read: not valid UTF-8"),
        ("NOT isValidJSON(line)", "read: not valid JSON"),
        ("NOT startsWith(trimLeft(line), '{')", "read: must be a JSON object"),
        (_absent(plate_raw), "plate: required"),
        (f"NOT {_is_str(plate_raw)}", "plate: must be a string"),
        ("lengthUTF8(plate_s) > 64", "plate: longer than 64 characters"),
        ("foreign_c != ''", "plate: " + FOREIGN_RULE.format(char="{char}")),
        (
            f"NOT (lengthUTF8(plate_n) BETWEEN 1 AND {MAX_PLATE})",
            f"plate: must have 1-{MAX_PLATE} letters or digits after normalisation",
        ),
        (_absent(ts_raw), "ts: required"),
        (
            f"NOT {_is_num(ts_raw)} AND NOT {_is_str(ts_raw)}",
            "ts: must be an ISO 8601 string with a time zone or integer epoch milliseconds",
        ),
        (
            "ts_ms IS NULL",
            "ts: must be an ISO 8601 string with a time zone or integer epoch milliseconds",
        ),
        (f"ts_ms < {EARLIEST_MS}", "ts: before 2000-01-01"),
        (
            "ts_ms > {now_ms:Int64} + {max_future_ms:Int64}",
            "ts: more than the allowed tolerance in the future",
        ),
        (_absent(cam_raw), "camera: required"),
        (f"NOT {_is_str(cam_raw)}", "camera: must be a string"),
        ("lengthUTF8(cam_s) > 64", "camera: longer than 64 characters"),
        ("cam_i = 0", "camera: not a camera registered to this agency"),
        *_opt_string_rule("read_id", rid_raw, "rid_s"),
        (f"NOT {_absent(rid_raw)} AND rid_s = ''", "read_id: must not be empty"),
        *_opt_string_rule("region", region_raw, "region_s"),
        ("region_n IS NULL", "region: must be ISO 3166-2 like US-CA, or a two-letter state code"),
        (f"NOT {_absent(lat_raw)} AND lat_v IS NULL", "lat: must be a number"),
        (f"NOT {_absent(lon_raw)} AND lon_v IS NULL", "lon: must be a number"),
        ("(lat_v IS NULL) != (lon_v IS NULL)", "lat: lat and lon must be given together"),
        ("NOT (ifNull(lat_v, 0) BETWEEN -90 AND 90)", "lat: must be between -90 and 90"),
        ("NOT (ifNull(lon_v, 0) BETWEEN -180 AND 180)", "lon: must be between -180 and 180"),
        (f"NOT {_absent(conf_raw)} AND conf_v IS NULL", "confidence: must be a number"),
        (
            "NOT (ifNull(conf_v, 0) BETWEEN 0 AND 100)",
            "confidence: must be between 0 and 1 (or 0 and 100)",
        ),
        (
            f"NOT {_absent(veh_raw)} AND NOT startsWith({veh_raw}, '{{')",
            "vehicle: must be an object",
        ),
        *_opt_string_rule("vehicle.make", _raw("make", v), "make_s"),
        *_opt_string_rule("vehicle.model", _raw("model", v), "model_s"),
        *_opt_string_rule("vehicle.color", _raw("color", v), "color_s"),
        *_opt_string_rule("vehicle.type", _raw("type", v), "type_s"),
        (
            f"NOT {_absent(_raw('direction', v))} AND dir_v IS NULL",
            "vehicle.direction: must be a number",
        ),
        (
            "NOT (ifNull(dir_v, 0) BETWEEN 0 AND 360)",
            "vehicle.direction: must be between 0 and 360 degrees",
        ),
        *_opt_string_rule("source_ts", sts_raw, "sts_s"),
        *_opt_string_rule("source_confidence", sconf_raw, "sconf_s"),
    ]
    # Each rule is one bit of a mask (vectorised comparisons); the reason is the message of the lowest set bit,
    # i.e. the first rule broken. A 45-branch multiIf measured 25 s per million rows; this is ~100x cheaper.
    if len(rules) > 63:
        raise ValueError("at most 63 rules fit the rule mask")
    mask = _balanced_sum(
        [f"bitShiftLeft(toUInt64(ifNull({cond}, 0) != 0), {bit})" for bit, (cond, _) in enumerate(rules)]
    )
    messages = "[" + ", ".join(f"'{msg}'" for _, msg in rules) + "]"
    first = f"arrayElement({messages}, bitCount(bitXor(rule_mask, rule_mask - 1)))"
    # The plate rule names its character: {char} is filled in only for the rows that break it.
    reason = (
        f"if(rule_mask = 0, '', if(foreign_c = '', {first}, replaceOne({first}, '{{char}}', {FOREIGN_DESCRIPTION})))"
    )
    defs = ",\n        ".join(f"{expr} AS {name}" for name, expr in columns.items())
    return f"""
    SELECT
        idx,
        batch,
        {_object_map("line")} AS {m},
        {defs},
        ({mask}) AS rule_mask,
        {reason} AS reason,
        plate_n AS plate,
        {FOLD.format("plate_n")} AS plate_key,
        fromUnixTimestamp64Milli(ifNull(ts_ms, 0), 'UTC') AS ts,
        owner,
        cam_s AS camera,
        substringUTF8(plate_s, 1, 64) AS plate_raw,
        rid_s AS read_id,
        ifNull(region_n, '') AS region,
        toFloat32(ifNull(lat_v, transform(cam_k, {{cam_keys:Array(String)}}, {{cam_lat:Array(Float64)}}, nan))) AS lat,
        toFloat32(ifNull(lon_v, transform(cam_k, {{cam_keys:Array(String)}}, {{cam_lon:Array(Float64)}}, nan))) AS lon,
        {CONFIDENCE} AS confidence,
        make_s AS make, model_s AS model, color_s AS color, type_s AS vtype,
        toFloat32(ifNull(dir_v, nan)) AS direction,
        source,
        fromUnixTimestamp64Milli({{now_ms:Int64}}, 'UTC') AS ingest_ts,
        sts_s AS source_ts,
        sconf_s AS source_confidence
    FROM {source_table}
    """


#: The stored columns from rows the ingest fast path typed in Python (``fastpath.STAGED_STRUCTURE``).
TYPED_COLUMNS = (
    f"{FOLD.format('plate')} AS plate_key, plate, fromUnixTimestamp64Milli(ts_ms, 'UTC') AS ts, owner, camera, "
    "plate_raw, read_id, region, toFloat32(ifNull(lat_v, nan)) AS lat, toFloat32(ifNull(lon_v, nan)) AS lon, "
    f"{CONFIDENCE} AS confidence, make, model, color, vtype, toFloat32(ifNull(dir_v, nan)) AS direction, source, "
    "fromUnixTimestamp64Milli({now_ms:Int64}, 'UTC') AS ingest_ts, source_ts, source_confidence"
)

#: ``plate_raw`` is stored only where it differs from ``plate`` ('' otherwise: most equipment sends the plate
#: already normalised, and a second copy of it costs ~4 bytes/read in the area projection). ``PLATE_AS_READ``
#: gives it back.
STORED_SELECT = STORED_COLUMNS.replace("plate_raw,", "if(plate_raw = plate, '', plate_raw) AS plate_raw,", 1)
PLATE_AS_READ = "if(plate_raw = '', plate, plate_raw)"
