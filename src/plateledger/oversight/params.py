"""The thresholds of the oversight rules, with defaults, and their plain-language text.

:func:`describe` writes what is watched from the configured values only, so the policy text and the transparency
report can publish it (invariant 7: what is published is what is enforced). Every field is checked against its
bounds when the parameters are made.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from plateledger.core.errors import FieldInvalid

#: Reasons that justify nothing on their own (public audits count them as no justification), compared after
#: lower-casing and dropping punctuation. Editable per owner.
CONTENT_FREE = (
    "investigation",
    "investigations",
    "invest",
    "inv",
    "invs",
    "bolo",
    "patrol",
    "warrant",
    "warrants",
    "check",
    "checks",
    "lookup",
    "search",
    "info",
    "information",
    "intel",
    "suspicious",
    "suspect",
    "case",
    "crime",
    "criminal",
    "followup",
    "follow up",
    "traffic",
    "vehicle",
    "plate",
    "other",
    "misc",
    "na",
    "n a",
    "none",
    "unknown",
    "x",
    "xx",
    "xxx",
    "tbd",
    "0",
)
#: Words that mark a search as a test or training run on live data (whole words, any case).
TEST_TERMS = ("test", "testing", "tst", "training", "trainee", "demo", "practice", "sample")


@dataclass(frozen=True)
class OversightParams:
    """What the rules watch for. Every threshold is documented in docs/oversight.md, Parameters."""

    #: A burst: at least ``burst_count`` searches by one user within ``burst_minutes`` minutes.
    burst_count: int = 30
    burst_minutes: int = 10
    #: Peer volume: a user's searches in a day above ``peer_factor`` × the median daily count of the other users
    #: of the same agency over the last ``peer_days`` days, and at least ``peer_floor`` searches; the median needs
    #: ``peer_min_user_days`` user-days of peers.
    peer_factor: float = 5.0
    peer_floor: int = 50
    peer_days: int = 28
    peer_min_user_days: int = 5
    #: A case number cited on more than ``case_max_days`` distinct days or for more than ``case_max_plates``
    #: distinct plates.
    case_max_days: int = 30
    case_max_plates: int = 50
    #: A case cited more than ``case_stale_days`` days after the case register says it was opened (or after it
    #: was closed): needs the agency's case register.
    case_stale_days: int = 365
    #: One user searching the same plate under at least ``plate_min_cases`` different case numbers.
    plate_min_cases: int = 3
    #: A case (``case.spread``) or a user's plate (``plate.many_cases``) with no search for more than
    #: ``state_horizon_days`` days is forgotten: what it gathered is dropped, and its next search starts afresh
    #: (a flag already raised keeps its evidence). Bounds the rules' memory over a log of many years.
    state_horizon_days: int = 365
    #: One user searching the same plate ``untied_searches`` times or more within ``untied_days`` days, each
    #: search tied to no alert the agency received for it and to no case of the agency's register.
    untied_searches: int = 5
    untied_days: int = 30
    #: A plate searched within ``after_removal_hours`` hours after its hot-list entry expired or was removed.
    after_removal_hours: int = 72
    #: A flag on a search of a plate the user's agency was alerted to within ``alert_explains_hours`` hours
    #: before is marked explained (for the rules a case or an alert can explain).
    alert_explains_hours: int = 72
    #: An area search within ``sensitive_distance_m`` metres of a place the agency lists as sensitive.
    sensitive_distance_m: int = 300
    #: A search reaching at least ``out_of_state_min_owners`` owners outside the requester's state.
    out_of_state_min_owners: int = 1
    #: Probing: a user's refused searches in a day, at least ``refusal_min`` of them and a share of the day's
    #: searches of at least ``refusal_share`` and above ``refusal_factor`` × the share refused over all searches.
    refusal_min: int = 5
    refusal_share: float = 0.5
    refusal_factor: float = 3.0
    #: Reasons that say nothing; and the words of test or training searches.
    content_free: tuple[str, ...] = CONTENT_FREE
    test_terms: tuple[str, ...] = TEST_TERMS

    def __post_init__(self) -> None:
        bounds: dict[str, tuple[float, float]] = {
            "burst_count": (2, 100_000),
            "burst_minutes": (1, 24 * 60),
            "peer_factor": (1.0, 1000.0),
            "peer_floor": (1, 1_000_000),
            "peer_days": (1, 366),
            "peer_min_user_days": (1, 10_000),
            "case_max_days": (1, 3650),
            "case_max_plates": (1, 1_000_000),
            "case_stale_days": (1, 3650),
            "plate_min_cases": (2, 1000),
            "state_horizon_days": (30, 3650),
            "untied_searches": (2, 10_000),
            "untied_days": (1, 366),
            "after_removal_hours": (1, 24 * 365),
            "alert_explains_hours": (1, 24 * 365),
            "sensitive_distance_m": (0, 50_000),
            "out_of_state_min_owners": (1, 100_000),
            "refusal_min": (1, 100_000),
            "refusal_share": (0.0, 1.0),
            "refusal_factor": (1.0, 1000.0),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise FieldInvalid(name, f"between {low:g} and {high:g}")
        for name in ("content_free", "test_terms"):
            if any(not isinstance(word, str) or not word.strip() for word in getattr(self, name)):
                raise FieldInvalid(name, "a list of non-blank words")

    def as_json(self) -> dict[str, object]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


DEFAULT = OversightParams()


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one}" if count == 1 else f"{count} {many or one + 's'}"


def describe(params: OversightParams, *, prohibited: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """What the oversight rules watch for, as plain sentences generated from ``params`` (and the categories of
    prohibited-purpose terms, where given). Flags go to review; none refuses a search."""
    p = params
    lines = [
        "Searches are reviewed by rules that flag patterns for the agency's auditors; a flag never refuses a "
        "search, and each one names the searches, the numbers and the threshold behind it.",
        f"Reasons that say nothing on their own (such as {', '.join(repr(w) for w in p.content_free[:4])}) and "
        "case numbers that do not match the agency's case-number pattern are flagged.",
        f"A case number cited on more than {_n(p.case_max_days, 'day')} or for more than "
        f"{_n(p.case_max_plates, 'plate')} is flagged.",
        f"A user running {p.burst_count} or more searches within {_n(p.burst_minutes, 'minute')} is flagged.",
        f"A user whose searches in a day exceed {p.peer_factor:g} times the median daily count of the agency's other "
        f"users (over {_n(p.peer_days, 'day')}), and number at least {p.peer_floor}, is flagged.",
        f"Where the agency keeps a case register, a case cited more than {_n(p.case_stale_days, 'day')} after it "
        "was opened, or after it was closed, is flagged.",
        f"A user searching the same plate under {p.plate_min_cases} or more different case numbers is flagged.",
        f"For these two counts, a case, or a user's plate, with no search for more than "
        f"{_n(p.state_horizon_days, 'day')} is forgotten: its days, plates and case numbers count afresh from its "
        "next search, and a flag already raised keeps its evidence.",
        f"A user searching the same plate {p.untied_searches} or more times within {_n(p.untied_days, 'day')}, "
        "each search following no alert the agency received for that plate within "
        f"{_n(p.alert_explains_hours, 'hour')} and citing no case open in the agency's case register, is flagged "
        "(where the agency keeps no register, a case number that is neither blank nor formulaic and matches its "
        "pattern counts as a case).",
        f"A plate searched within {_n(p.after_removal_hours, 'hour')} after its hot-list entry expired or was "
        "removed is flagged.",
        "Free text naming a purpose the agency prohibits is flagged for review, never refused"
        + (f" (terms about {', '.join(sorted(prohibited))})." if prohibited else "."),
        f"Test or training searches on live data (words such as {', '.join(repr(w) for w in p.test_terms[:3])}) "
        "are flagged.",
        f"A search reaching {_n(p.out_of_state_min_owners, 'data owner')} or more outside the requester's state is "
        "flagged, and so is a user with at least "
        f"{p.refusal_min} refused searches in a day making up {p.refusal_share:.0%} or more of the day's searches "
        f"and over {p.refusal_factor:g} times the usual share of refusals.",
        f"An area search within {p.sensitive_distance_m} m of a place the agency lists as sensitive (clinics, places "
        "of worship, shelters) is flagged.",
        "A flag on content-free reasons, case numbers off the pattern, one plate under many cases, a plate "
        "searched repeatedly outside any alert or case, a plate searched after its hot-list entry ended, or a "
        "heavy day is marked explained, and kept out of the review queue, when every case it cites is open in the "
        "agency's case register and assigned to the user's unit, "
        f"or the agency was alerted to its plates within {_n(p.alert_explains_hours, 'hour')} before; flags on "
        "prohibited terms, tests, bursts, refusals, reach, sensitive places and stale cases are never explained "
        "away.",
    ]
    return lines
