"""plateledger-verify: check a Plateledger audit log without trusting whoever runs it.

Pure formats, shared with the server so there is one implementation of each:

* :mod:`.merkle` — RFC 6962/9162 hashing, proofs (generated from any hash store) and their verification.
* :mod:`.tiles` — C2SP tlog-tiles paths, tile hash addressing and entry bundles.
* :mod:`.note` — C2SP signed notes, verifier and signer keys (Ed25519).
* :mod:`.checkpoint` — C2SP tlog-checkpoint and tlog-cosignature/v1; consistency between two checkpoints.
* :mod:`.policy` — C2SP tlog-policy and quorum evaluation.
* :mod:`.proof` — C2SP tlog-proof (``c2sp.org/tlog-proof@v1``) files.
* :mod:`.witness` — C2SP tlog-witness request and answer bodies.
* :mod:`.leaf` — the audit log's leaf format (public part, salted commitment) and how an entry touches an owner.

The oversight body's commands (:mod:`.cli`), over a log served in the tlog-tiles layout:

* :mod:`.client` — HTTP reads of checkpoint, tiles, bundles and transparency figures, bounded.
* :mod:`.logview` — a verified checkpoint's tree, every hash and leaf proven before use.
* :mod:`.state` — the verifier's state directory: pinned policy, every checkpoint seen, evidence.
* :mod:`.monitor` — ``update``, ``compare``, ``proof``; :mod:`.export` — ``check-export``;
  :mod:`.recount` — ``report``.
"""

__version__ = "0.1.0"
