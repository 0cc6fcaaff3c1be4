"""C2SP tlog-policy: which logs and witnesses a verifier trusts, and how many witnesses must cosign.

::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> <k|any|all> <member>...
    quorum <name|none>

Lines are split on spaces and tabs; blank lines and ``#`` comments are ignored. Names (witnesses and groups
share one namespace) are defined before use, ``none`` is predefined and cannot be a member, each member appears
once per group, ``1 <= k <= n``, one quorum line, no two logs or two witnesses with the same public key.
Log keys are Ed25519 (type 0x01), witness keys Ed25519 cosignature keys (type 0x04).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from plateledger_verify.checkpoint import VerifiedCheckpoint, open_checkpoint
from plateledger_verify.errors import MalformedError, QuorumError
from plateledger_verify.note import SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey

NONE = "none"
#: Implementation limits (the specification asks for at least 32 of each).
MAX_LOGS = MAX_WITNESSES = MAX_GROUPS = 256
_Fail = Callable[[str], MalformedError]
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class PolicyLog:
    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyWitness:
    name: str
    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyGroup:
    name: str
    threshold: int
    members: tuple[str, ...]
    spelled: str  # "any", "all" or the number, as written

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.members):
            raise MalformedError(f"group {self.name}: threshold {self.threshold} not in 1..{len(self.members)}")


@dataclass(frozen=True, slots=True)
class Policy:
    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    @property
    def log_keys(self) -> list[VerifierKey]:
        return [log.key for log in self.logs]

    @property
    def witness_keys(self) -> list[VerifierKey]:
        return [w.key for w in self.witnesses]

    def satisfied(self, cosigned: Iterable[str]) -> bool:
        """Whether witnesses with these names cosigning meets the quorum."""
        names = set(cosigned)
        groups = {g.name: g for g in self.groups}

        def witnessed(name: str) -> bool:
            if name == NONE:
                return True
            group = groups.get(name)
            if group is None:
                return name in names
            return sum(witnessed(m) for m in group.members) >= group.threshold

        return witnessed(self.quorum)

    def encode(self) -> str:
        lines = [" ".join(filter(None, ["log", str(log.key), log.url])) for log in self.logs]
        lines += [" ".join(filter(None, ["witness", w.name, str(w.key), w.url])) for w in self.witnesses]
        lines += [" ".join(["group", g.name, g.spelled, *g.members]) for g in self.groups]
        lines.append(f"quorum {self.quorum}")
        return "\n".join(lines) + "\n"


def parse_policy(data: str | bytes) -> Policy:
    """Parse a policy file; :class:`MalformedError` names the line and the rule it breaks."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    logs: list[PolicyLog] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, PolicyGroup] = {}
    quorum: str | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        if _BAD_CHARS.search(raw):
            raise MalformedError(f"policy line {number}: control character")
        words = raw.replace("\t", " ").split()
        if not words or words[0].startswith("#"):
            continue

        def fail(rule: str, number: int = number) -> MalformedError:
            return MalformedError(f"policy line {number}: {rule}")

        keyword, args = words[0], words[1:]
        if quorum is not None and keyword != "quorum":
            # The quorum may only name what precedes it; nothing after it can matter, so refuse it.
            raise fail("definitions must precede the quorum line")
        if keyword == "log":
            if len(args) not in (1, 2):
                raise fail("log takes a vkey and an optional URL")
            key = _key(args[0], SIG_ED25519, fail)
            if any(log.key.public_key == key.public_key for log in logs):
                raise fail("duplicate log key")
            logs.append(PolicyLog(key, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise fail("witness takes a name, a vkey and an optional URL")
            name = args[0]
            _new_name(name, witnesses, groups, fail)
            key = _key(args[1], SIG_COSIGNATURE_V1, fail)
            if any(w.key.public_key == key.public_key for w in witnesses.values()):
                raise fail("duplicate witness key")
            witnesses[name] = PolicyWitness(name, key, args[2] if len(args) == 3 else None)
        elif keyword == "group":
            if len(args) < 3:
                raise fail("group takes a name, a threshold (k, any or all) and at least one member")
            name, spelled, members = args[0], args[1], tuple(args[2:])
            _new_name(name, witnesses, groups, fail)
            for member in members:
                if member == NONE:
                    raise fail("none cannot be a group member")
                if member not in witnesses and member not in groups:
                    raise fail(f"group member {member!r} is not defined above")
            if len(set(members)) != len(members):
                raise fail("a member is listed twice")
            if spelled == "any":
                k = 1
            elif spelled == "all":
                k = len(members)
            elif re.fullmatch(r"[1-9][0-9]*", spelled):
                k = int(spelled)
            else:
                raise fail(f"threshold {spelled!r} is not a number, any or all")
            if k > len(members):
                raise fail(f"threshold {k} exceeds the {len(members)} members")
            groups[name] = PolicyGroup(name, k, members, spelled)
        elif keyword == "quorum":
            if quorum is not None:
                raise fail("a second quorum line")
            if len(args) != 1:
                raise fail("quorum takes one name")
            if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                raise fail(f"quorum {args[0]!r} is not defined above")
            quorum = args[0]
        else:
            raise fail(f"unknown keyword {keyword!r}")
        if len(logs) > MAX_LOGS or len(witnesses) > MAX_WITNESSES or len(groups) > MAX_GROUPS:
            raise fail("too many logs, witnesses or groups")
    if quorum is None:
        raise MalformedError("policy has no quorum line")
    return Policy(tuple(logs), tuple(witnesses.values()), tuple(groups.values()), quorum)


def _key(text: str, want: int, fail: _Fail) -> VerifierKey:
    try:
        key = VerifierKey.parse(text)
    except MalformedError as exc:
        raise fail(str(exc)) from exc
    if key.type != want:
        raise fail(f"key {key.name} has type {key.type:#04x}, expected {want:#04x}")
    return key


def _new_name(name: str, witnesses: dict[str, PolicyWitness], groups: dict[str, PolicyGroup], fail: _Fail) -> None:
    if name == NONE:
        raise fail("the name none is predefined")
    if name in witnesses or name in groups:
        raise fail(f"name {name!r} is already defined")


def witnesses_who_cosigned(policy: Policy, verified: VerifiedCheckpoint) -> list[str]:
    """The policy's names of the witnesses whose cosignatures on ``verified`` checked out."""
    return [w.name for w in policy.witnesses if w.key in verified.cosignatures]


def open_checkpoint_with_policy(
    data: bytes | str, policy: Policy, *, allow_extensions: bool = False
) -> VerifiedCheckpoint:
    """Verify a cosigned checkpoint: signed by a policy log, origin = that log's key name, quorum met.

    Raises :class:`SignatureError` (no policy log signed, or any known key's signature is bad),
    :class:`QuorumError` (too few witnesses) or :class:`MalformedError`.
    """
    verified = open_checkpoint(data, policy.log_keys, policy.witness_keys, allow_extensions=allow_extensions)
    cosigned = witnesses_who_cosigned(policy, verified)
    if not policy.satisfied(cosigned):
        got = ", ".join(cosigned) or "no witness"
        raise QuorumError(f"quorum {policy.quorum} not met: cosigned by {got}")
    return verified
