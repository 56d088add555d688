"""Where webhooks may be sent: public addresses only, unless an allowlist says otherwise.

An HR system's URL is resolved when it is subscribed and again before every delivery (so a name
that later resolves to an internal address is caught too). Loopback, private, link-local,
multicast, reserved and unspecified addresses are refused unless a network in
``LMS_CERTIFICATION_WEBHOOK_ALLOWED_NETWORKS`` contains them (local development, development keys
and a database on this machine, also allows loopback)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from services.certification.settings import Settings
from services.common.edge import Network, parse_networks

LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])


def allowed_networks(settings: Settings) -> tuple[Network, ...]:
    extra = LOOPBACK if settings.local_development() else ()
    return parse_networks(settings.webhook_allowed_networks) + extra


def refused(address: str, allowed: tuple[Network, ...]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return False
    return not ip.is_global or ip.is_multicast


async def target_problem(url: str, allowed: tuple[Network, ...]) -> str | None:
    """Why ``url`` may not receive webhooks, or None when every address it resolves to is allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        return f"the host {host!r} does not resolve"
    addresses = sorted({str(info[4][0]) for info in infos})
    bad = [a for a in addresses if refused(a, allowed)]
    if bad:
        return (
            f"the host {host!r} resolves to a loopback, private or link-local address ({', '.join(bad)});"
            " webhooks go to public addresses only"
        )
    return None
