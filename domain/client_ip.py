"""Who the client is, by IP, when a reverse proxy may stand in front of the API.

The TCP peer is the client unless it is one of the operator's trusted proxies
(`Q2C_TRUSTED_PROXIES`); only then is X-Forwarded-For read, from the right: each trusted
proxy appended the address it was talking to, so the right-most address that is not a
trusted proxy is the client. Anything left of it was written by the client itself and is
not believed. With no trusted proxy configured, the header is ignored altogether: a
visitor cannot choose the IP recorded in a signature's audit trail or dodge a rate limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPNetwork = IPv4Network | IPv6Network
# Past this many hops the header is not a real chain of proxies; only its right end counts.
MAX_HOPS = 30


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The setting's addresses or CIDR networks; ValueError on one that is neither."""
    return tuple(ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.partition(":")[0]
    try:
        address = ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def client_address(peer: str, forwarded_for: Iterable[str], networks: Sequence[IPNetwork]) -> str:
    """The client's IP as text: the peer, or, when the peer is a trusted proxy, the
    right-most X-Forwarded-For address that is not one (`forwarded_for`: each of the
    header's values, in order). A hop that is not an address ends the walk at the proxy
    that wrote it, as nothing further left can be trusted."""
    peer_address = _address(peer)
    if peer_address is None or not networks or not _trusted(peer_address, networks):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for value in forwarded_for for hop in value.split(",")][-MAX_HOPS:]
    nearest = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(nearest)
        if not _trusted(address, networks):
            return str(address)
        nearest = address
    # Every hop is a trusted proxy: the left-most one is as close to the client as known.
    return str(nearest)
