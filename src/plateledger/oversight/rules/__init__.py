"""The oversight rules, in the order reports list them (docs/oversight.md describes each)."""

from __future__ import annotations

from plateledger.oversight.rules.base import CaseEntry, Context, Removal, Rule, case_key
from plateledger.oversight.rules.cases import AfterRemoval, CaseSpread, CaseStale, PlateCases
from plateledger.oversight.rules.places import SensitivePlaces
from plateledger.oversight.rules.reach import OutOfState, RefusalShare
from plateledger.oversight.rules.text import CasePattern, ContentFree, ProhibitedTerms, TestSearches
from plateledger.oversight.rules.untied import UntiedPlate
from plateledger.oversight.rules.volume import Burst, PeerVolume

RULES: tuple[type[Rule], ...] = (
    ContentFree,
    CasePattern,
    CaseSpread,
    CaseStale,
    Burst,
    PeerVolume,
    PlateCases,
    UntiedPlate,
    AfterRemoval,
    ProhibitedTerms,
    TestSearches,
    OutOfState,
    RefusalShare,
    SensitivePlaces,
)
BY_ID: dict[str, type[Rule]] = {rule.id: rule for rule in RULES}

__all__ = ["BY_ID", "RULES", "CaseEntry", "Context", "Removal", "Rule", "case_key"]
