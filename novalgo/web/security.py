"""Who is calling: the client's address (behind trusted proxies only) and the admin token."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Request

from novalgo.settings import IPNetwork, Settings

ADMIN_ONLY = "send Authorization: Bearer <NOVALGO_ADMIN_TOKEN> (with no token set, only this machine may read)"


def client_ip(request: Request, trusted_proxies: tuple[IPNetwork, ...]) -> str:
    """The caller's address; X-Forwarded-For is believed only when it comes from a trusted proxy."""
    remote = request.remote_addr or ""
    if not _in(remote, trusted_proxies):
        return remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):  # the rightmost entries were added by our own proxies
        if not _in(hop, trusted_proxies):
            return hop
    return hops[0] if hops else remote


def address_allowed(address: str, allowed: tuple[IPNetwork, ...] | None) -> bool:
    return allowed is None or _in(address, allowed)


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison, so the answer's timing says nothing about the secret."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def admin_allowed(request: Request, settings: Settings) -> bool:
    """Bearer token when one is set; otherwise loopback callers only."""
    if settings.admin_token:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and same_secret(token.strip(), settings.admin_token)
    return _in(client_ip(request, settings.trusted_proxies), (ipaddress.ip_network("127.0.0.0/8"),
                                                               ipaddress.ip_network("::1/128")))


def _in(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
