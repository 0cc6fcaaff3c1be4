"""The public part and the private part of an audit entry: what its Merkle leaf publishes, and what the leaf's
commitment hides (the leaf format itself is :mod:`plateledger_verify.leaf`).

One function, :func:`split`, makes both from the fields of an entry as stored (the ``audit_log`` row, or the
fields the append is about to store): the append builds the leaf from it, ``audit verify`` rebuilds it to check
the leaf, the audit export discloses the private part it gives, and the access log decides how an entry touches
an owner from the public part it gives (:func:`plateledger_verify.leaf.touch`). So the public recount of an
agency's figures and its access log agree by construction.

* **public**: entry number, hour, action, outcome, the requesting agency (the actor's agency slug), purpose, the
  owners touched (:func:`owners_of`) and the entry's counts;
* **private**: exact time, user id and name, client address, case number and every parameter.

``purpose`` is published only when it is one of the purposes of the vocabulary: a refused search records what
was typed into the purpose field (it may be a plate or a name), so such a purpose goes to the private part
(``purpose``, present only then) and the public part says null.

``params`` of the private part is the parsed JSON object, unless it holds a non-integer number (an area
search's latitude): canonical JSON has no single spelling of a float, so the private part then holds the stored
JSON text of the parameters as one string — the exact bytes the hash chain covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from plateledger.vocab import Purpose
from plateledger_verify import leaf

_PURPOSES = frozenset(p.value for p in Purpose)
#: Actions whose owners are the search's: reads returned per owner, and the rules that withheld the others.
_SEARCHES = leaf.SEARCH_ACTIONS


@dataclass(frozen=True)
class Parts:
    """An entry's public part (without its commitment) and private part."""

    public: dict[str, Any]
    private: dict[str, Any]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ints(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in _dict(value).items() if isinstance(v, int) and not isinstance(v, bool)}


def owners_of(action: str, params: Mapping[str, Any], counts: Mapping[str, Any]) -> leaf.Owners:
    """How an entry of ``action`` touched the owners of reads (docs/audit.md, "Leaves").

    Searches, image views and refused searches: ``counts.per_owner``, ``params.withheld`` and
    ``params.withheld_others``; a raised alert: its read's owner, 1 read; a withheld alert: the owner with the
    rule; a search's download: ``counts.per_owner``; every other action touches no owner."""
    if action in _SEARCHES:
        others = params.get("withheld_others")
        return leaf.Owners(
            _ints(counts.get("per_owner")),
            {str(k): str(v) for k, v in _dict(params.get("withheld")).items()},
            str(others) if others else None,
        )
    if action == "alert.raised":
        return leaf.Owners({str(params.get("owner", "")): 1}, {})
    if action == "alert.withheld":
        return leaf.Owners({}, {str(params.get("owner", "")): str(params.get("rule", ""))})
    if action in leaf.EXPORT_ACTIONS:
        return leaf.Owners(_ints(counts.get("per_owner")), {})
    return leaf.NO_OWNERS


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def split(fields: Mapping[str, Any], agency: str | None) -> Parts:
    """The public and private parts of the entry with ``fields`` (the ``audit_log`` columns: ``seq``, ``ts_ms``,
    ``action``, ``outcome``, ``actor_user_id``, ``actor_username``, ``purpose``, ``case_number``, ``client``, and
    ``params`` and ``counts`` as their stored JSON text); ``agency``: the slug of the actor's agency."""
    params_text: str = fields["params"] or "{}"
    params = orjson.loads(params_text)
    counts = _dict(orjson.loads(fields["counts"] or "{}"))
    action = str(fields["action"])
    purpose = fields["purpose"]
    published = purpose if purpose is None or purpose in _PURPOSES else None
    public = leaf.public_part(
        seq=int(fields["seq"]),
        ts_ms=int(fields["ts_ms"]),
        action=action,
        outcome=str(fields["outcome"]),
        agency=agency,
        purpose=published,
        owners=owners_of(action, _dict(params), counts),
        counts=counts,
    )
    private = {
        "ts_ms": int(fields["ts_ms"]),
        "user_id": fields["actor_user_id"],
        "user": fields["actor_username"],
        "client": fields.get("client"),
        "case_number": fields["case_number"],
        "params": params_text if _has_float(params) else params,
    }
    if published != purpose:
        private["purpose"] = purpose
    return Parts(public, private)


def leaf_of(parts: Parts, salt: bytes) -> bytes:
    """The leaf data of an entry with ``parts`` under ``salt``."""
    return leaf.leaf_data(parts.public, leaf.commitment(salt, parts.private))
