"""The leaf of a Plateledger audit log: a public part anyone may read, and a commitment to the private part.

An audit entry names plates, officers and cases; none of that may become public, yet the public must be able to
recount who searched whose data, and an auditor must be able to prove that a given entry is in the log. So each
leaf is::

    leaf data  = canonical JSON of the public part, with "commitment": hex(C)
    C          = SHA-256(COMMITMENT_TAG ‖ salt ‖ canonical JSON of the private part)
    salt       = 32 random bytes, kept by the log beside the entry

The **public part** holds the entry number, the hour it was made, the action and its outcome, the requesting
agency, the purpose, the owner agencies the entry touched with their decision (reads returned, or the rule that
withheld them) and the entry's counts — never a plate, user, client address, case number, note or query. The
**private part** holds the rest (exact time, user, client, case number, every parameter). The owner's auditors
get private parts with their salts in an audit export; :func:`check_exported` recomputes the leaf from them.
After the audit-retention period the log deletes the salts: the private part can then no longer be confirmed
by anyone (a guess cannot be checked without the salt), while every leaf and every proof stays as it was.

**Canonical JSON** (:func:`canonical`): keys sorted, no whitespace, UTF-8 (no ``\\u`` escapes of non-ASCII),
integers only (a float is refused: it has no single canonical spelling), ``true``/``false``/``null``. The
server (orjson) and this module (the standard library) write the same bytes for such values.

How an entry touches an owner (:func:`touch`) is defined here once: the server's access log and transparency
report use it, and ``plateledger-verify report`` recounts the published figures with it from public leaves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateledger_verify.errors import MalformedError

#: Version of the leaf format, the ``v`` field of every public part.
LEAF_VERSION = 1
#: Domain separation of the commitment hash: a commitment cannot be mistaken for any other SHA-256 in the log.
COMMITMENT_TAG = b"plateledger/audit-private/v1\n"
SALT_SIZE = 32
#: Actions whose entry concerns owners of reads: searches, image views and refusals of a search.
SEARCH_ACTIONS = frozenset({"search.plate", "search.area", "search.description", "search.refused", "image.viewed"})
#: A hot-list match on an owner's reads: raised for the list's agency, or withheld by the owner's policy.
ALERT_ACTIONS = frozenset({"alert.raised", "alert.withheld"})
#: A search's answer downloaded (the owner's reads in the file).
EXPORT_ACTIONS = frozenset({"search.exported"})
PERMITTED, WITHHELD = "permitted", "withheld"
#: Public fields of every leaf, in the order the docs list them (the JSON itself is sorted).
PUBLIC_FIELDS = (
    "v",
    "seq",
    "hour",
    "action",
    "outcome",
    "agency",
    "purpose",
    "per_owner",
    "withheld",
    "withheld_others",
    "counts",
    "commitment",
)
HOUR_MS = 3_600_000


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module doc); floats and non-string keys are refused."""
    _check_canonical(value, "value")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _check_canonical(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise MalformedError(f"{where}: integer {value} outside 64 bits")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_canonical(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedError(f"{where}: key {key!r} is not a string")
            _check_canonical(item, f"{where}.{key}")
        return
    raise MalformedError(f"{where}: {type(value).__name__} has no canonical JSON form (integers, strings only)")


def commitment(salt: bytes, private: Mapping[str, Any]) -> bytes:
    """The salted commitment to a private part: ``SHA-256(COMMITMENT_TAG ‖ salt ‖ canonical(private))``."""
    if len(salt) != SALT_SIZE:
        raise MalformedError(f"salt is {len(salt)} bytes, not {SALT_SIZE}")
    return hashlib.sha256(COMMITMENT_TAG + salt + canonical(dict(private))).digest()


def hour_of(ts_ms: int) -> int:
    """The hour an entry's time falls in, as hours since 1970-01-01T00:00Z (what a public part records)."""
    return ts_ms // HOUR_MS


def _counts_only(value: Any, where: str) -> Any:
    """``value`` if it holds only integers (nested in objects keyed by agency or count name)."""
    if isinstance(value, bool) or not isinstance(value, (int, dict)):
        raise MalformedError(f"{where}: a public count must be an integer or an object of counts")
    if isinstance(value, dict):
        return {str(k): _counts_only(v, f"{where}.{k}") for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Owners:
    """How an entry touched the owners of reads: reads returned per permitted owner, the rule per withheld
    owner, and the rule that withheld every other agency with a camera at the time (a search decides every
    agency; the most common refusal is recorded once)."""

    per_owner: Mapping[str, int]
    withheld: Mapping[str, str]
    withheld_others: str | None = None


NO_OWNERS = Owners({}, {}, None)


def public_part(
    *,
    seq: int,
    ts_ms: int,
    action: str,
    outcome: str,
    agency: str | None,
    purpose: str | None,
    owners: Owners,
    counts: Mapping[str, Any],
) -> dict[str, Any]:
    """The public part of entry ``seq`` (without its commitment)."""
    return {
        "v": LEAF_VERSION,
        "seq": seq,
        "hour": hour_of(ts_ms),
        "action": action,
        "outcome": outcome,
        "agency": agency,
        "purpose": purpose,
        "per_owner": {str(k): int(v) for k, v in owners.per_owner.items()},
        "withheld": {str(k): str(v) for k, v in owners.withheld.items()},
        "withheld_others": owners.withheld_others,
        "counts": _counts_only(dict(counts), "counts"),
    }


def leaf_data(public: Mapping[str, Any], commitment_hash: bytes) -> bytes:
    """The bytes of the leaf: the public part with its commitment, canonical JSON."""
    if len(commitment_hash) != 32:
        raise MalformedError(f"commitment is {len(commitment_hash)} bytes, not 32")
    if "commitment" in public:
        raise MalformedError("public part already holds a commitment")
    return canonical({**public, "commitment": commitment_hash.hex()})


@dataclass(frozen=True)
class Leaf:
    """A parsed leaf: its public part (with ``commitment``) and the bytes it was parsed from."""

    public: Mapping[str, Any]
    data: bytes

    @property
    def seq(self) -> int:
        return int(self.public["seq"])

    @property
    def hour(self) -> int:
        return int(self.public["hour"])

    @property
    def commitment(self) -> bytes:
        return bytes.fromhex(str(self.public["commitment"]))


_TYPES: dict[str, tuple[type, ...]] = {
    "v": (int,),
    "seq": (int,),
    "hour": (int,),
    "action": (str,),
    "outcome": (str,),
    "agency": (str, type(None)),
    "purpose": (str, type(None)),
    "per_owner": (dict,),
    "withheld": (dict,),
    "withheld_others": (str, type(None)),
    "counts": (dict,),
    "commitment": (str,),
}


def parse_leaf(data: bytes) -> Leaf:
    """Parse leaf bytes, refusing anything that is not exactly a canonical version-1 public part: unknown or
    missing fields, wrong types, or bytes that are not the canonical spelling of what they hold (so one entry
    has one leaf, and a verifier's recount reads what the hash covers)."""
    try:
        public = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedError(f"leaf is not UTF-8 JSON: {exc}") from exc
    if not isinstance(public, dict):
        raise MalformedError("leaf is not a JSON object")
    if set(public) != set(PUBLIC_FIELDS):
        extra = sorted(set(public) - set(PUBLIC_FIELDS))
        missing = sorted(set(PUBLIC_FIELDS) - set(public))
        raise MalformedError(f"leaf fields differ from version {LEAF_VERSION}: extra {extra}, missing {missing}")
    for name, types in _TYPES.items():
        value = public[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise MalformedError(f"leaf field {name!r} has the wrong type ({type(value).__name__})")
    if public["v"] != LEAF_VERSION:
        raise MalformedError(f"leaf version {public['v']}, this verifier reads {LEAF_VERSION}")
    if canonical(public) != data:
        raise MalformedError("leaf is not in canonical JSON form")
    commitment_hex = public["commitment"]
    if len(commitment_hex) != 64 or any(c not in "0123456789abcdef" for c in commitment_hex):
        raise MalformedError("leaf commitment is not 64 lower-case hex digits")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in public["per_owner"].values()):
        raise MalformedError("leaf per_owner holds a value that is not an integer")
    if not all(isinstance(v, str) for v in public["withheld"].values()):
        raise MalformedError("leaf withheld holds a rule that is not a string")
    _counts_only(public["counts"], "counts")
    return Leaf(public, data)


def check_exported(public: Mapping[str, Any], private: Mapping[str, Any] | None, salt: bytes | None) -> bytes:
    """The leaf data of an exported entry: its private part and salt must reproduce the public part's
    commitment (raises :class:`MalformedError` naming the entry otherwise). An entry whose salt was deleted
    (past audit retention) is exported without private part and salt, and is proven by its public part alone."""
    seq = public.get("seq")
    stated = str(public.get("commitment", ""))
    if (private is None) != (salt is None):
        raise MalformedError(f"entry {seq}: a private part needs its salt, and a salt its private part")
    if private is not None and salt is not None and not hmac.compare_digest(commitment(salt, private).hex(), stated):
        raise MalformedError(f"entry {seq}: private part and salt do not match the leaf's commitment")
    leaf = canonical(dict(public))
    parse_leaf(leaf)
    return leaf


@dataclass(frozen=True)
class Touch:
    """How one entry concerns one owner: ``permitted`` with the reads returned, or ``withheld`` with the rule."""

    outcome: str
    rows: int | None
    rule: str | None


def touch(public: Mapping[str, Any], slug: str, first_camera_hour: int | None) -> Touch | None:
    """How the entry with public part ``public`` concerns owner ``slug``, whose first camera was added in hour
    ``first_camera_hour`` (None: no camera yet); None when it does not.

    * an alert (``alert.raised`` / ``alert.withheld``) concerns the owner of the matched read only;
    * an export concerns the owners whose reads are in the file;
    * a search, image view or refused search concerns the owners in ``per_owner`` (permitted, reads returned,
      0 included) and ``withheld`` (with the rule), and, when ``withheld_others`` is set, every other agency
      that had a camera in the entry's hour or before (withheld with that rule).
    """
    action = public.get("action")
    per_owner: Mapping[str, Any] = public.get("per_owner") or {}
    withheld: Mapping[str, Any] = public.get("withheld") or {}
    if action in ALERT_ACTIONS or action in EXPORT_ACTIONS:
        if slug in per_owner and (action in ALERT_ACTIONS or per_owner[slug]):
            return Touch(PERMITTED, int(per_owner[slug]), None)
        if action in ALERT_ACTIONS and slug in withheld:
            return Touch(WITHHELD, None, str(withheld[slug]))
        return None
    if action not in SEARCH_ACTIONS:
        return None
    if slug in per_owner:
        return Touch(PERMITTED, int(per_owner[slug]), None)
    if slug in withheld:
        return Touch(WITHHELD, None, str(withheld[slug]))
    others = public.get("withheld_others")
    if others and first_camera_hour is not None and first_camera_hour <= int(public.get("hour", -1)):
        return Touch(WITHHELD, None, str(others))
    return None
