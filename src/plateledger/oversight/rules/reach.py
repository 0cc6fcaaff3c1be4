"""Rules on whose data a search reaches: owners outside the requester's state, and a user whose searches are
refused far more often than usual (probing for data the user may not see)."""

from __future__ import annotations

from plateledger.oversight.flags import Draft, Flag, day, plural
from plateledger.oversight.records import Field, SearchRecord
from plateledger.oversight.rules.base import DAY_MS, Context, Rule
from plateledger.oversight.rules.volume import DayCounts


class OutOfState(Rule):
    id = "reach.out_of_state"
    title = "Searches reaching owners outside the requester's state"
    needs = frozenset({Field.AGENCY, Field.OWNERS})

    @classmethod
    def context_missing(cls, context: Context) -> str | None:
        return None if context.agency_states else "the agencies' states (jurisdictions) were not given"

    def feed(self, record: SearchRecord) -> list[Flag]:
        states = self.context.agency_states
        home = states.get(record.agency or "")
        if home is None or not record.owners_reached:
            return []
        outside = {o: s for o in record.owners_reached if (s := states.get(o)) is not None and s != home}
        if len(outside) < self.params.out_of_state_min_owners:
            return []
        key = f"{record.actor}|{record.ts_ms // DAY_MS}"
        raised = self.add(key, record, home=home, owners={})
        self._drafts[key].extra["owners"].update(outside)
        return [self.render(self._drafts[key])] if raised else []

    def render(self, draft: Draft) -> Flag:
        owners: dict[str, str] = draft.extra["owners"]
        named = ", ".join(f"{o} ({s})" for o, s in list(owners.items())[:5]) + (" …" if len(owners) > 5 else "")
        return draft.flag(
            self.id,
            {
                "searches": len(draft.refs),
                "home": draft.extra["home"],
                "owners_outside": len(owners),
                "states": sorted(set(owners.values())),
                "day": day(draft.first_ms),
            },
            {"out_of_state_min_owners": self.params.out_of_state_min_owners},
            f"{plural(len(draft.refs), 'search', 'searches')} by {draft.actor} ({draft.extra['home']}) on "
            f"{day(draft.first_ms)} reached data of {plural(len(owners), 'owner')} outside its state: {named}.",
        )


class RefusalShare(Rule):
    id = "reach.refusals"
    title = "A share of refused searches far above normal (probing)"
    needs = frozenset({Field.OUTCOME})

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._today = DayCounts()
        self._searches = 0
        self._refused = 0

    def feed(self, record: SearchRecord) -> list[Flag]:
        self._searches += 1
        self._refused += record.refused
        finished = self._today.roll(record)
        return [] if finished is None else self._judge(*finished, keep=True)

    def flags(self) -> list[Flag]:
        open_day = self._today.day
        pending = [] if open_day is None else self._judge(open_day, self._today.records, keep=False)
        return super().flags() + pending

    def _judge(self, today: int, actors: dict[str, list[SearchRecord]], *, keep: bool) -> list[Flag]:
        p = self.params
        usual = self._refused / self._searches if self._searches else 0.0
        flags = []
        for actor, records in actors.items():
            refused = [r for r in records if r.refused]
            share = len(refused) / len(records)
            if len(refused) < p.refusal_min or share < p.refusal_share or share <= p.refusal_factor * usual:
                continue
            key = f"{actor}|{today}"
            draft = Draft.of(key, refused[0])
            for record in refused:
                draft.add(record)
            draft.extra.update(searches=len(records), share=share, usual=usual)
            if keep:
                self._drafts[key] = draft
            flags.append(self.render(draft))
        return flags

    def render(self, draft: Draft) -> Flag:
        p = self.params
        refused, searches = len(draft.refs), draft.extra["searches"]
        share, usual = draft.extra["share"], draft.extra["usual"]
        return draft.flag(
            self.id,
            {
                "refused": refused,
                "searches": searches,
                "share": round(share, 3),
                "usual_share": round(usual, 4),
                "day": day(draft.first_ms),
            },
            {"refusal_min": p.refusal_min, "refusal_share": p.refusal_share, "refusal_factor": p.refusal_factor},
            f"{refused} of {draft.actor}'s {plural(searches, 'search', 'searches')} on {day(draft.first_ms)} were "
            f"refused ({share:.0%}, against {usual:.1%} of all searches): repeated refusals can be someone probing "
            "for data they may not see.",
        )
