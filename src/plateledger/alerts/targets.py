"""Where a webhook may send: public HTTPS endpoints only (no server-side request forgery by an agency admin).

An agency admin chooses a webhook's URL; the server then POSTs to it from inside the operator's network. So a URL
is refused unless it is ``https://`` and every address its host resolves to is globally routable: loopback,
private (RFC 1918, unique local), link-local (cloud metadata at 169.254.169.254), shared (100.64/10),
multicast, reserved, unspecified and documentation addresses are refused, for IPv4 and IPv6 alike, including
IPv4 addresses carried in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64) and the numeric spellings the
resolver accepts (``2130706433``, ``0177.0.0.1``, ``127.1``). The check runs when the webhook is registered and
again before every delivery, since a name's DNS answer can change: the sender connects to the address it has just
checked (:meth:`TargetGuard.pin`), not to whatever a second lookup would return, and follows no redirect.

``webhook_allow_loopback`` (development only; refused in production) lets http:// and loopback targets through
for local testing. A name that does not resolve when it is registered is accepted (it reaches nothing yet); it is
checked again before each delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from plateledger.core.errors import FieldInvalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host, port -> the addresses it resolves to (the network edge: tests may pass their own).
Resolver = Callable[[str, int], list[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, which also reads numeric forms such as
    ``2130706433``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in embedded if v4 is not None]


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            why = refusal(ip.ipv4_mapped)
            return None if why is None else f"carries {ip.ipv4_mapped}, {why}"
        for v4 in _embedded_v4(ip):
            if (why := refusal(v4)) is not None:
                return f"carries {v4}, {why}"
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"a {kind} address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


@dataclass(frozen=True)
class Pinned:
    """A checked URL rewritten to the address that was checked; ``host`` goes in the Host header and, for https,
    names the server whose certificate must match (SNI)."""

    url: str
    host: str
    server_name: str


class TargetGuard:
    def __init__(self, *, allow_loopback: bool = False, resolve: Resolver = system_resolve) -> None:
        self.allow_loopback = allow_loopback
        self._resolve = resolve

    def check_url(self, url: str) -> tuple[str, int]:
        """The host and port of ``url`` if its form is allowed (FieldInvalid ``url`` otherwise); no lookup."""
        parts = urlsplit(url)
        schemes = ("https", "http") if self.allow_loopback else ("https",)
        if parts.scheme not in schemes:
            raise FieldInvalid("url", "must be an https:// URL")
        if parts.username is not None or parts.password is not None:
            raise FieldInvalid("url", "must not carry a user name or password")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FieldInvalid("url", "has an invalid port") from None
        if not parts.hostname:
            raise FieldInvalid("url", "needs a host")
        return parts.hostname, port

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, every one of them allowed (FieldInvalid ``url`` otherwise; OSError when the
        name does not resolve)."""
        found = [ipaddress.ip_address(a) for a in self._resolve(host, port)]
        for ip in found:
            why = refusal(ip)
            if why is not None and not (self.allow_loopback and ip.is_loopback):
                raise FieldInvalid("url", f"{host} resolves to {ip}, {why}: webhooks go to public addresses only")
        return found

    def validate(self, url: str) -> None:
        """Registration: the URL's form, and every address its host resolves to now."""
        host, port = self.check_url(url)
        try:
            self.addresses(host, port)
        except OSError:
            return  # resolves to nothing yet: checked again before each delivery

    def pin(self, url: str) -> Pinned:
        """Delivery: check again and rewrite ``url`` to the first checked address (FieldInvalid or OSError)."""
        host, port = self.check_url(url)
        addresses = self.addresses(host, port)
        if not addresses:
            raise OSError(f"{host} resolves to no address")
        ip = addresses[0]
        parts = urlsplit(url)
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        default = 443 if parts.scheme == "https" else 80
        netloc = literal if parts.port in (None, default) else f"{literal}:{port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        return Pinned(url=pinned, host=parts.netloc, server_name=host)
