"""The client address of an HTTP request, as the audit log and the sign-in lockout record it.

The socket peer is the client, unless the peer is a trusted proxy (``trusted_proxies``, CIDRs; none by default):
then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first address that is not one
is the client. A header from an untrusted peer is ignored, so a client cannot choose the address recorded for it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Longest text form of an address (IPv6 with an embedded IPv4 address); the audit column's width.
MAX_ADDRESS = 45


@functools.lru_cache(maxsize=8)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse CIDRs (``10.0.0.0/8``, ``::1/128``; a bare address is one host), once per list (settings validate
    them at start-up)."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The request's client: ``peer`` itself, or, when ``peer`` is a trusted proxy, the rightmost address of
    ``forwarded_for`` that is not a trusted proxy (the nearest hop that vouches for no one else). A malformed hop
    ends the walk at the proxy that reported it."""
    if peer is None:
        return None
    current = peer
    if forwarded_for and _trusted(_address(peer), trusted):
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                break
            current = str(address)
            if not _trusted(address, trusted):
                break
    return current[:MAX_ADDRESS]
