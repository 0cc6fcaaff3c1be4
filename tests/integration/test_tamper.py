"""The tamper suite: someone who can write the governance database rewrites the audit log, and an outside verifier
(``plateledger-verify``, its own process, holding a checkpoint from before) catches it with the exit code of the
attack.

Each case starts from a copy of one honest data directory and of one verifier's state (the checkpoint it stored
while the log was honest). The attacker edits ``governance.db`` with SQL and our own code — the chain re-hashed,
the tree rebuilt from the rewritten entries, the old checkpoints deleted — so the server's own ``audit verify``
is fooled where it can be; the server, which still holds the signing key, then signs whatever tree it has, and
serves it. The verifier (``update``, ``compare``, ``check-export``) runs against that server.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from plateledger.audit.log import GENESIS, SYSTEM, entry_hash
from plateledger.audit.public import leaf_of, split
from plateledger.audit.tree import TreeState
from plateledger.core.clock import FixedClock
from plateledger.core.settings import Settings, load_settings
from plateledger.platform import Platform
from plateledger_verify import merkle
from plateledger_verify.note import Signer
from tests.integration import witness_kit
from tests.integration.alert_kit import serving
from tests.support import (
    HOUR_MS,
    NOW_MS,
    clear_settings_environment,
    free_port,
    ingest,
    opened,
    read,
    search,
    seed_agency,
)

pytestmark = pytest.mark.slow

ORIGIN = "tamper.plateledger.test/audit"
#: Every server of this module listens here: the verifiers pinned its URL at init.
PORT = free_port()
MONTH = "2025-06"  # NOW_MS is 2025-06-01T12:00Z
#: Exit codes of plateledger-verify (verify/src/plateledger_verify/errors.py).
OK, MALFORMED, SIGNATURE, FORK, ROLLBACK, MISSING = 0, 2, 3, 5, 6, 7


@dataclass(frozen=True)
class Honest:
    """The honest data directory, the key, and a verifier state holding the checkpoint of its whole log."""

    root: Path
    data: Path
    key: Path
    state: Path
    size: int


def settings_for(data: Path, key: Path) -> Settings:
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_settings_environment(monkeypatch)
        return load_settings(data=data, log_origin=ORIGIN, log_key_file=key)


def verify(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "plateledger_verify", *args, "--state", str(state)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATELEDGER")}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


def activity(platform: Platform, tag: str, searches: int) -> None:
    """Ordinary use after the verifier's checkpoint: a token issued, plates searched (each an audit entry)."""
    investigator = platform.tokens.authenticate(platform.tokens.issue(SYSTEM, "city-investigator").secret)
    for n in range(searches):
        search(platform, investigator, f"{tag}{n}", case_number=f"2025-{tag}-{n}")


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Honest:
    root = tmp_path_factory.mktemp("tamper")
    key = root / "log.key"
    key.write_text(Signer.generate(ORIGIN).private_key_text() + "\n")
    key.chmod(0o600)
    data = root / "honest"
    with opened(settings_for(data, key), FixedClock(NOW_MS)) as platform:
        city = seed_agency(platform, "city")
        seed_agency(platform, "county")
        ingest(platform, city, [read(f"HONEST{n}", camera="city-fixed", ts=NOW_MS - HOUR_MS) for n in range(5)])
        for n in range(12):
            search(platform, city.principals["investigator"], f"HONEST{n % 5}", case_number=f"2025-{n:06d}")
        assert platform.checkpoints.checkpoint().published
        size = platform.audit.tree.head()[0]
        state = root / "verifier"
        with serving(platform, PORT) as url:
            policy = root / "log.policy"
            policy.write_text(f"log {platform.checkpoints.identity.signer.verifier}\nquorum none\n")
            assert verify(state, "init", "--policy", str(policy), "--url", url).returncode == OK
            first = verify(state, "update")
            assert first.returncode == OK, first.stderr
    return Honest(root, data, key, state, size)


@contextmanager
def copy_of(honest: Honest, name: str) -> Iterator[tuple[Path, Path]]:
    """A copy of the honest data directory's governance database (the audit log; the reads store is not
    needed here and starts empty) and of the verifier's state (``name`` apart)."""
    target = honest.root / name
    (target / "data").mkdir(parents=True)
    shutil.copy2(honest.data / "governance.db", target / "data" / "governance.db")
    shutil.copytree(honest.state, target / "verifier")
    yield target / "data", target / "verifier"


# -- the attacker's tools --------------------------------------------------------------------------------------
Rows = list[dict[str, Any]]


def rewrite(data: Path, change: Callable[[Rows], Rows], *, rebuild_tree: bool = True) -> None:
    """Rewrite the audit log in ``data``'s governance database as someone with write access would: ``change``
    the entries, renumber them, re-hash the whole chain and move its head; with ``rebuild_tree``, rebuild every
    leaf of a changed entry (our own code, as in migration 0008; the entries before the first change keep theirs),
    every tile and the tree, and delete the old checkpoints and witness state, so nothing in the database
    contradicts the new history."""
    db = sqlite3.connect(data / "governance.db")
    db.row_factory = sqlite3.Row
    with db:
        rows = [dict(r) for r in db.execute("SELECT * FROM audit_log ORDER BY seq")]
        before = {r["seq"]: dict(r) for r in rows}
        rows = change(rows)
        prev = GENESIS
        for seq, row in enumerate(rows, start=1):
            row["seq"], row["prev_hash"] = seq, prev
            fields = {k: row[k] for k in _HASHED}
            if row.get("client") is not None:
                fields["client"] = row["client"]
            row["hash"] = prev = entry_hash(fields)
        db.execute("DELETE FROM audit_log")
        columns = list(rows[0])
        db.executemany(
            f"INSERT INTO audit_log ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [tuple(r[c] for c in columns) for r in rows],
        )
        db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (len(rows), prev))
        if rebuild_tree:
            slugs = {int(i): str(s) for i, s in db.execute("SELECT id, slug FROM agencies")}
            kept = {int(q): (bytes(d), s) for q, d, s in db.execute("SELECT seq, data, salt FROM audit_leaves")}
            leaves = []
            for row in rows:
                if before.get(row["seq"]) == row:  # an entry left as it was keeps its leaf
                    leaves.append((row["seq"], *kept[row["seq"]]))
                    continue
                salt = os.urandom(32)
                agency = slugs.get(row["actor_agency_id"]) if row["actor_agency_id"] is not None else None
                leaves.append((row["seq"], leaf_of(split(row, agency), salt), salt))
            state, writes = TreeState.empty().grow(merkle.leaf_hash(d) for _, d, _ in leaves)
            db.execute("DELETE FROM audit_leaves")
            db.executemany("INSERT INTO audit_leaves (seq, data, salt) VALUES (?, ?, ?)", leaves)
            db.execute("DELETE FROM audit_tiles")
            db.executemany(
                "INSERT INTO audit_tiles (level, idx, hashes) VALUES (?, ?, ?)",
                [(w.level, w.index, w.hashes) for w in writes],
            )
            db.execute(
                "UPDATE audit_tree SET size = ?, compact = ? WHERE id = 1", (state.size, b"".join(state.compact))
            )
            db.execute("DELETE FROM audit_checkpoints")
            db.execute("DELETE FROM audit_witness_state")
    db.close()


_HASHED = (
    "seq",
    "ts_ms",
    "action",
    "actor_user_id",
    "actor_username",
    "actor_agency_id",
    "purpose",
    "case_number",
    "outcome",
    "params",
    "counts",
    "prev_hash",
)


def searches_of(rows: Rows) -> list[int]:
    return [i for i, r in enumerate(rows) if r["action"] == "search.plate"]


def edit_case(rows: Rows) -> Rows:
    """Change the case number an officer cited (the kind of edit that hides a search made without a case)."""
    i = searches_of(rows)[3]
    rows[i]["case_number"] = "2025-LEGIT-1"
    return rows


def delete_search(rows: Rows) -> Rows:
    del rows[searches_of(rows)[2]]
    return rows


def insert_search(rows: Rows) -> Rows:
    i = searches_of(rows)[1]
    rows.insert(i, {**rows[i], "case_number": "2025-BACKDATED", "ts_ms": rows[i]["ts_ms"] - 60_000})
    return rows


def reorder(rows: Rows) -> Rows:
    a, b = searches_of(rows)[4:6]
    rows[a], rows[b] = rows[b], rows[a]
    return rows


def truncate(count: int) -> Callable[[Rows], Rows]:
    return lambda rows: rows[:-count]


# -- serving a (tampered) copy and following it ---------------------------------------------------------------
def serve_and(
    data: Path, key: Path, then: Callable[[str, Platform], None], *, more: int = 0, tag: str = "LATR"
) -> None:
    """Open ``data`` (the server's own start-up checks run), add ``more`` honest searches, sign a checkpoint of
    whatever tree the database holds, serve it and call ``then(url, platform)``."""
    with opened(settings_for(data, key), FixedClock(NOW_MS + HOUR_MS)) as platform:
        if more:
            activity(platform, tag, more)
        platform.checkpoints.checkpoint()
        with serving(platform, PORT) as url:
            then(url, platform)


def expect_update(code: int, state: Path) -> Callable[[str, Platform], None]:
    def check(url: str, platform: Platform) -> None:
        result = verify(state, "update")
        assert result.returncode == code, (result.returncode, result.stdout, result.stderr)

    return check


@pytest.mark.parametrize(
    ("name", "change", "more", "code"),
    [
        ("full-rehash-after-edit", edit_case, 0, FORK),
        ("deleted-entry", delete_search, 3, FORK),
        ("inserted-entry", insert_search, 0, FORK),
        ("reordered-entries", reorder, 0, FORK),
        ("tail-truncated-head-moved-back", truncate(4), 0, ROLLBACK),
    ],
)
def test_rewritten_history_is_caught_by_a_verifier_holding_an_earlier_checkpoint(
    honest: Honest, name: str, change: Callable[[Rows], Rows], more: int, code: int
) -> None:
    with copy_of(honest, name) as (data, state):
        rewrite(data, change)
        with opened(settings_for(data, honest.key), FixedClock(NOW_MS)) as platform:
            # The database is consistent with itself: the server's own check cannot tell.
            assert platform.audit.verify().intact
        serve_and(data, honest.key, expect_update(code, state), more=more)
        # The verifier stored nothing from the rewritten log and kept the evidence.
        assert (state / "checkpoint").read_bytes() == (honest.state / "checkpoint").read_bytes()


def test_an_edited_entry_whose_leaf_was_left_alone_fails_its_commitment(honest: Honest) -> None:
    """Edit the entry and re-hash the chain but not the tree: the tree (and every checkpoint) still verifies,
    the server's audit verify names the entry, and the auditor's export fails on it in check-export."""
    with copy_of(honest, "edited-entry") as (data, state):
        rewrite(data, edit_case, rebuild_tree=False)
        with opened(settings_for(data, honest.key), FixedClock(NOW_MS)) as platform:
            result = platform.audit.verify()
            assert not result.intact
            edited = result.first_bad_seq
            export = platform.audit_exports.export(SYSTEM, "city", MONTH)
        exported = state.parent / "export.json"
        exported.write_bytes(orjson.dumps(export))

        def check(url: str, platform: Platform) -> None:
            assert verify(state, "update").returncode == OK  # the tree itself was not touched
            found = verify(state, "check-export", str(exported))
            assert found.returncode == MISSING, found.stderr
            assert f"entry {edited}" in found.stderr

        serve_and(data, honest.key, check)


def test_rollback_to_an_older_checkpoint_is_caught(honest: Honest) -> None:
    """The log grows and the verifier follows; then the server serves its older checkpoint again."""
    with copy_of(honest, "rollback") as (data, state):

        def grow(url: str, platform: Platform) -> None:
            assert verify(state, "update").returncode == OK

        serve_and(data, honest.key, grow, more=2)
        db = sqlite3.connect(data / "governance.db")
        with db:
            newest = db.execute("SELECT max(size) FROM audit_checkpoints").fetchone()[0]
            db.execute("UPDATE audit_checkpoints SET published = 0 WHERE size = ?", (newest,))
        db.close()
        with opened(settings_for(data, honest.key), FixedClock(NOW_MS)) as platform, serving(platform, PORT) as url:
            del url
            assert verify(state, "update").returncode == ROLLBACK


def test_a_checkpoint_signed_by_an_unknown_key_is_refused(honest: Honest) -> None:
    """Whoever rewrote the database cannot use the log's key; a checkpoint signed with their own is refused."""
    with copy_of(honest, "unknown-key") as (data, state):
        forged = state.parent / "forged.key"
        forged.write_text(Signer.generate(ORIGIN).private_key_text() + "\n")
        forged.chmod(0o600)
        rewrite(data, edit_case)
        serve_and(data, forged, expect_update(SIGNATURE, state))


def test_extension_lines_smuggled_into_a_checkpoint_are_refused(honest: Honest) -> None:
    with copy_of(honest, "extension") as (data, state):

        def smuggle(url: str, platform: Platform) -> None:
            db = sqlite3.connect(data / "governance.db")
            with db:
                size, note = db.execute(
                    "SELECT size, note FROM audit_checkpoints WHERE published = 1 ORDER BY size DESC LIMIT 1"
                ).fetchone()
                body, _, signatures = bytes(note).partition(b"\n\n")
                db.execute(
                    "UPDATE audit_checkpoints SET note = ? WHERE size = ?",
                    (body + b"\nsearches-hidden 0\n\n" + signatures, size),
                )
            db.close()
            result = verify(state, "update")
            assert result.returncode == SIGNATURE, result.stderr

        serve_and(data, honest.key, smuggle, more=1)


def test_a_fork_shown_to_two_verifiers_is_caught_when_they_compare(honest: Honest) -> None:
    """Two copies of one honest log grow apart (each with its own later entries) to the same size: each is
    consistent with the checkpoint both verifiers held, so each verifier's update passes, and comparing their
    checkpoints proves the fork."""
    with copy_of(honest, "fork-a") as (data_a, state_a), copy_of(honest, "fork-b") as (data_b, state_b):

        def follow(state: Path) -> Callable[[str, Platform], None]:
            return expect_update(OK, state)

        serve_and(data_a, honest.key, follow(state_a), more=2, tag="AAAA")
        serve_and(data_b, honest.key, follow(state_b), more=2, tag="BBBB")
        a = (state_a / "checkpoint").read_bytes()
        b = (state_b / "checkpoint").read_bytes()
        assert a.split(b"\n")[1] == b.split(b"\n")[1]  # same size
        assert a != b
        with opened(settings_for(data_a, honest.key), FixedClock(NOW_MS)) as platform, serving(platform, PORT):
            result = verify(state_a, "compare", str(state_b / "checkpoint"))
        assert result.returncode == FORK, result.stderr


def test_check_export_proves_a_month_and_names_an_entry_removed_from_the_log(honest: Honest) -> None:
    with copy_of(honest, "export") as (data, state):
        with opened(settings_for(data, honest.key), FixedClock(NOW_MS)) as platform:
            export = platform.audit_exports.export(SYSTEM, "city", MONTH)
        exported = state.parent / "export.json"
        exported.write_bytes(orjson.dumps(export))
        entries = [e["seq"] for e in export["entries"]]
        assert len(entries) > 5

        def proves(url: str, platform: Platform) -> None:
            result = verify(state, "check-export", str(exported))
            assert result.returncode == OK, result.stderr

        serve_and(data, honest.key, proves)
        removed = entries[len(entries) // 2]
        rewrite(data, lambda rows: [r for r in rows if r["seq"] != removed])

        def fails(url: str, platform: Platform) -> None:
            # The verifier that held the honest checkpoint sees the rewrite itself ...
            assert verify(state, "update").returncode == FORK
            # ... and one that starts now (trusting the rewritten tree) finds the entry missing from it.
            fresh = state.parent / "fresh-verifier"
            assert verify(fresh, "init", "--policy", str(honest.root / "log.policy"), "--url", url).returncode == OK
            assert verify(fresh, "update").returncode == OK
            result = verify(fresh, "check-export", str(exported))
            assert result.returncode == MISSING, result.stderr
            assert f"entry {removed} " in result.stderr

        serve_and(data, honest.key, fails)


def test_a_witness_refuses_a_rewritten_log_so_nothing_new_is_published(tmp_path: Path) -> None:
    """With a witness in the policy, the rewrite is caught before any verifier looks: the witness (its own
    process) holds the honest checkpoint, refuses the rewritten tree (no consistency proof joins them), the
    quorum is not met, the server publishes nothing new and says why in /healthz."""
    key_file, signer = witness_kit.log_key(tmp_path, ORIGIN)
    vkey = str(signer.verifier)
    with witness_kit.witnesses(tmp_path, vkey, ["auditor"], running=False) as (auditor,):
        witness_kit.start(auditor, vkey, ORIGIN)
        policy = witness_kit.write_policy(tmp_path / "witnesses.policy", [auditor], "auditor")
        data = tmp_path / "data"

        def conf() -> Settings:
            with pytest.MonkeyPatch.context() as monkeypatch:
                clear_settings_environment(monkeypatch)
                return load_settings(data=data, log_origin=ORIGIN, log_key_file=key_file, witness_policy_file=policy)

        with opened(conf(), FixedClock(NOW_MS)) as platform:
            city = seed_agency(platform, "city")
            for n in range(6):
                search(platform, city.principals["investigator"], f"WIT{n}", case_number=f"2025-{n:06d}")
            honest = platform.checkpoints.checkpoint()
            assert honest.published, honest.reason
        rewrite(data, edit_case)
        with opened(conf(), FixedClock(NOW_MS + HOUR_MS)) as platform:
            activity(platform, "WITB", 2)
            run = platform.checkpoints.checkpoint()
            assert run.signed
            assert not run.published
            assert "auditor" in run.reason
            assert "(422)" in run.reason  # bad consistency proof
            with serving(platform, PORT) as url:
                # The attacker deleted the honest checkpoints, and the rewritten tree was not cosigned: nothing.
                assert httpx2.get(f"{url}/log/checkpoint").status_code == 404
                health = httpx2.get(f"{url}/healthz").json()["log"]
                assert health["quorum_met"] is False
                assert health["witnesses"]["auditor"]["cosigned"] is False
