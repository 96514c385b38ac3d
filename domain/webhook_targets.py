"""Which addresses an outbound webhook may be sent to (no server-side request forgery).

A subscription names a URL; without this rule an operator key, or whoever steals one,
could make the worker POST to the cloud metadata service (169.254.169.254), the database
port on localhost or any host of the private network, and read the answer back in the
delivery log. So a webhook goes only to globally routable unicast addresses, unless the
operator lists a host or network in the allow-list (`Q2C_WEBHOOK_ALLOW_HOSTS`) for an
internal receiver on purpose.

Pure: resolving a host name is the caller's (activities.events.resolve_webhook_target);
this decides on the addresses it found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# RFC 6598 shared address space (carrier-grade NAT): `is_private` is False for it, but
# it is nobody's public receiver.
SHARED_ADDRESS_SPACE = ip_network("100.64.0.0/10")
# NAT64 (RFC 6052) reaches the IPv4 address in its last 32 bits.
NAT64 = ip_network("64:ff9b::/96")


class RefusedTarget(ValueError):
    """The URL may not receive webhooks; the message says why, for the operator."""


@dataclass(frozen=True)
class AllowList:
    """Internal targets the operator allowed: exact host names and address networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def allow_list(entries: Iterable[str]) -> AllowList:
    """From the setting's entries: an address or CIDR network each, or a host name.
    Raises ValueError on a network with host bits set, which is likely a typo."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ip_network(entry.strip("[]")))
        except ValueError:
            if "/" in entry or ":" in entry:
                raise ValueError(f"not an address, network or host name: {entry!r}") from None
            hosts.add(entry.lower().rstrip("."))
    return AllowList(frozenset(hosts), tuple(networks))


@dataclass(frozen=True)
class Target:
    """An http(s) URL taken apart: where to connect and what to call the host."""

    scheme: str
    host: str
    port: int
    # The host as an address when the URL names one, else None (a name to resolve).
    address: IPAddress | None


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("must be an absolute http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedTarget("has an invalid port") from None
    host = parts.hostname.lower().rstrip(".")
    try:
        address: IPAddress | None = ip_address(host)
    except ValueError:
        address = None
        try:
            # As it goes into DNS, the Host header and SNI: ASCII (an IDN as punycode).
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise RefusedTarget(f"has an invalid host name {host!r}") from None
    return Target(parts.scheme, host, port, address)


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64), or itself."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def why_refused(address: IPAddress) -> str | None:
    """None for a public unicast address; else what kind of address it is."""
    embedded: list[IPAddress] = []
    if isinstance(address, IPv6Address):
        # 6to4 and Teredo carry an IPv4 address that the relay would then reach.
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
    address = unmapped(address)
    for inner in embedded:
        if (reason := why_refused(inner)) is not None:
            return reason
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def check_addresses(
    target: Target, addresses: Sequence[IPAddress], allowed: AllowList
) -> list[IPAddress]:
    """The addresses to connect to, all of them checked; RefusedTarget if any one is not
    allowed (a name resolving to one public and one internal address is refused: the
    connection could go to either)."""
    if not addresses:
        raise RefusedTarget(f"host {target.host} has no address")
    if allowed.allows_host(target.host):
        return list(addresses)
    for address in addresses:
        if allowed.allows_address(address) or allowed.allows_address(unmapped(address)):
            continue
        reason = why_refused(address)
        if reason is not None:
            named = str(address) if str(address) == target.host else f"{target.host} ({address})"
            raise RefusedTarget(
                f"{named} is {reason}; webhooks go only to public addresses"
                " unless Q2C_WEBHOOK_ALLOW_HOSTS allows it"
            )
    return list(addresses)
