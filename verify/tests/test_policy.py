"""C2SP tlog-policy: parsing rules and quorum evaluation, and checkpoints opened under a policy."""

from __future__ import annotations

import itertools

import pytest

from plateledger_verify import merkle
from plateledger_verify.checkpoint import Checkpoint, add_signatures, cosign, sign_checkpoint
from plateledger_verify.errors import MalformedError, QuorumError, SignatureError
from plateledger_verify.note import SIG_COSIGNATURE_V1, Signer
from plateledger_verify.policy import Policy, open_checkpoint_with_policy, parse_policy

LOG = Signer.generate("audit.example.org/log")
WITNESSES = {
    name: Signer.generate(f"{name.lower()}.example", SIG_COSIGNATURE_V1)
    for name in ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
}


def _w(name: str) -> str:
    return str(WITNESSES[name].verifier)


# The specification's example, with real keys.
SPEC_POLICY = f"""
# two organisations' witnesses
log {LOG.verifier} https://audit.example.org/log/

witness X1 {_w("X1")}
witness X2 {_w("X2")}
witness X3 {_w("X3")}
group X-witnesses 2 X1 X2 X3

\twitness Y1 {_w("Y1")}\t
witness Y2 {_w("Y2")} https://y2.example/witness
witness Y3 {_w("Y3")}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_specification_example_quorum() -> None:
    policy = parse_policy(SPEC_POLICY)
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert policy.logs[0].url == "https://audit.example.org/log/"
    assert policy.witnesses[4].url == "https://y2.example/witness"
    names = ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    for r in range(len(names) + 1):
        for subset in itertools.combinations(names, r):
            xs = sum(n.startswith("X") for n in subset)
            ys = sum(n.startswith("Y") for n in subset)
            assert policy.satisfied(subset) == (xs >= 2 and ys >= 1), subset


def test_policy_encodes_and_parses_back() -> None:
    policy = parse_policy(SPEC_POLICY)
    assert parse_policy(policy.encode()) == policy
    assert parse_policy(SPEC_POLICY.encode()) == policy


@pytest.mark.parametrize(
    ("quorum_lines", "cosigned", "ok"),
    [
        ("quorum none", [], True),
        ("quorum X1", [], False),
        ("quorum X1", ["X1"], True),
        ("quorum X1", ["X2"], False),
        ("group g all X1 X2\nquorum g", ["X1"], False),
        ("group g all X1 X2\nquorum g", ["X1", "X2"], True),
        ("group g any X1 X2\nquorum g", ["X2"], True),
        ("group g 1 X1\nquorum g", ["X1"], True),
        ("group g 3 X1 X2 X3\nquorum g", ["X1", "X3"], False),
        ("group g 3 X1 X2 X3\nquorum g", ["X1", "X2", "X3", "unknown"], True),
    ],
)
def test_quorum_cases(quorum_lines: str, cosigned: list[str], ok: bool) -> None:
    text = f"log {LOG.verifier}\n" + "".join(f"witness {n} {_w(n)}\n" for n in ["X1", "X2", "X3"]) + quorum_lines
    assert parse_policy(text).satisfied(cosigned) is ok


W = "\n".join(f"witness {n} {_w(n)}" for n in ["X1", "X2"]) + "\n"


#: Policies refused, with the rule each breaks. Some hold keys generated at import, so the test ids are the
#: index and the rule (the same in every process: pytest-xdist requires it), never the text.
MALFORMED = [
    ("", "no quorum"),
    (W, "no quorum"),
    (W + "quorum X1\nquorum X2\n", "second quorum"),
    (W + "quorum X9\n", "not defined"),
    ("quorum X1\n" + W, "not defined above"),
    (W + f"quorum X1\nwitness X3 {_w('X3')}\n", "precede the quorum"),
    (W + "group g 2 X1\nquorum g\n", "exceeds"),
    (W + "group g 0 X1\nquorum g\n", "not a number"),
    (W + "group g 01 X1\nquorum g\n", "not a number"),
    (W + "group g most X1 X2\nquorum g\n", "not a number"),
    (W + "group g any\nquorum g\n", "at least one member"),
    (W + "group g any X1 X1\nquorum g\n", "listed twice"),
    (W + "group g any none\nquorum g\n", "none cannot"),
    (W + "group g any h\ngroup h any X1\nquorum g\n", "not defined above"),
    (W + "group X1 any X2\nquorum X1\n", "already defined"),
    (W + f"witness X1 {_w('X3')}\nquorum none\n", "already defined"),
    (W + f"witness none {_w('X3')}\nquorum none\n", "predefined"),
    (W + f"witness X3 {_w('X1')}\nquorum none\n", "duplicate witness key"),
    (f"log {LOG.verifier}\nlog {LOG.verifier}\nquorum none\n", "duplicate log key"),
    (f"log {_w('X1')}\nquorum none\n", "type"),
    (f"witness X1 {LOG.verifier}\nquorum none\n", "type"),
    ("log not-a-key\nquorum none\n", "verifier key"),
    (W + "witness X3\nquorum none\n", "witness takes"),
    (W + "quorum X1 X2\n", "one name"),
    (W + "frobnicate\nquorum none\n", "unknown keyword"),
    (W + "quorum none\x0b\n", "control character"),
]


@pytest.mark.parametrize(("text", "rule"), MALFORMED, ids=[f"{i}-{rule}" for i, (_, rule) in enumerate(MALFORMED)])
def test_malformed_policies_are_refused(text: str, rule: str) -> None:
    with pytest.raises(MalformedError, match=rule):
        parse_policy(text)


def _policy(quorum: str) -> Policy:
    text = f"log {LOG.verifier}\n" + "".join(f"witness {n} {_w(n)}\n" for n in ["X1", "X2", "X3"])
    return parse_policy(text + quorum)


def _checkpoint(*cosigners: str, size: int = 10) -> bytes:
    cp = Checkpoint(LOG.name, size, merkle.leaf_hash(b"x"))
    return add_signatures(sign_checkpoint(cp, LOG), *(cosign(cp, WITNESSES[n], 1_800_000_000) for n in cosigners))


def test_open_checkpoint_with_policy() -> None:
    policy = _policy("group g 2 X1 X2 X3\nquorum g")
    verified = open_checkpoint_with_policy(_checkpoint("X1", "X3"), policy)
    assert verified.checkpoint.size == 10
    with pytest.raises(QuorumError, match="cosigned by X2"):
        open_checkpoint_with_policy(_checkpoint("X2"), policy)
    with pytest.raises(QuorumError, match="no witness"):
        open_checkpoint_with_policy(_checkpoint(), policy)
    # A witness the policy does not know counts for nothing.
    with pytest.raises(QuorumError):
        open_checkpoint_with_policy(_checkpoint("X1", "Y1"), policy)
    assert open_checkpoint_with_policy(_checkpoint(), _policy("quorum none")).checkpoint.size == 10


def test_policy_without_the_log_refuses_its_checkpoints() -> None:
    policy = parse_policy(f"witness X1 {_w('X1')}\nquorum X1\n")
    with pytest.raises(SignatureError):
        open_checkpoint_with_policy(_checkpoint("X1"), policy)
