"""Who is calling: the client address that rate limits and audit logs use.

The TCP peer is the client, unless the peer is a proxy the server was told to trust
(``--forwarded-allow-ips``, default none): then the last address in ``X-Forwarded-For``
that is not itself a trusted proxy is the client. A forged ``X-Forwarded-For`` from anyone
else changes nothing.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.requests import Request

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; raises ValueError for a bad entry."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in items if item.strip())


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def resolve(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client address for a request from ``peer`` carrying ``forwarded_for``."""
    if not trusted or not _is_trusted(peer, trusted) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy's side: fall back to the proxy
    return hops[0] if hops else peer


def client_address(request: Request) -> str:
    """The calling client's address (see the module docstring)."""
    peer = request.client.host if request.client else "?"
    trusted = getattr(request.app.state, "trusted_proxies", ())
    return resolve(peer, request.headers.get("x-forwarded-for"), trusted)


def describe(trusted: tuple[Network, ...]) -> str:
    """One line for the start-up log: how client addresses are determined."""
    if not trusted:
        return ("client addresses: the TCP peer of each connection (X-Forwarded-For is "
                "ignored; behind a reverse proxy pass --forwarded-allow-ips)")
    nets = ", ".join(str(n) for n in trusted)
    return (f"client addresses: X-Forwarded-For when the peer is a trusted proxy ({nets}), "
            "else the TCP peer")


def proxies_option(text: str) -> str:
    """``--forwarded-allow-ips`` as argparse checks it (a clear one-line error if bad)."""
    import argparse

    try:
        parse_trusted(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an address or network: {exc}") from None
    return text
