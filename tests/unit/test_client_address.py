"""The client address recorded for a request: X-Forwarded-For counts only from a trusted proxy."""

from __future__ import annotations

import pytest

from plateledger.auth.client import client_address, networks

TRUSTED = networks(("10.0.0.0/8", "::1"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "192.0.2.1", "203.0.113.9"),  # untrusted peer: the header is ignored
        ("10.0.0.5", None, "10.0.0.5"),  # a trusted proxy without the header is the client
        ("10.0.0.5", "192.0.2.1", "192.0.2.1"),
        ("10.0.0.5", "192.0.2.66, 198.51.100.7, 10.1.2.3", "198.51.100.7"),  # rightmost untrusted hop
        ("10.0.0.5", "10.1.1.1, 10.2.2.2", "10.1.1.1"),  # all trusted: the farthest
        ("10.0.0.5", "198.51.100.7, not-an-address", "10.0.0.5"),  # a malformed hop ends the walk
        ("::1", "2001:db8::7", "2001:db8::7"),
        (None, "192.0.2.1", None),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, expected: str | None) -> None:
    assert client_address(peer, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_the_peer_is_always_the_client() -> None:
    assert client_address("10.0.0.5", "192.0.2.1", networks(())) == "10.0.0.5"
