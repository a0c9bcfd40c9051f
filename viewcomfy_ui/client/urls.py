"""Origins, and which hosts an output link may point at.

An output `filepath` is a URL the server names: fetching it blindly lets a hostile endpoint make
the client read its own machine or network (a cloud metadata address, a router). Links must be
http(s), and reach loopback, link-local or private addresses only when the endpoint itself sits
in that kind of network (a local server, a test).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

import httpx

from ..errors import MalformedResultError

Scope = Literal["public", "loopback", "link-local", "private", "reserved"]


def origin(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` of a URL; ``"the endpoint"`` when it cannot be parsed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "the endpoint"
    if not parsed.scheme or not parsed.host:
        return "the endpoint"
    port = f":{parsed.port}" if parsed.port else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"


def host_scope(host: str) -> Scope:
    """Which network a host is in: an IP literal by its class, ``localhost`` by name, other names
    by what they resolve to (the most private address wins; unresolvable counts as public, and
    the connection will fail on its own)."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        return _ip_scope(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "public"
    scopes = {_ip_scope(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos}
    for scope in ("loopback", "link-local", "private", "reserved"):
        if scope in scopes:
            return scope  # type: ignore[return-value]
    return "public"


def _ip_scope(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Scope:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    return "public" if ip.is_global else "reserved"


def check_output_url(url: str, name: str, allowed: frozenset[Scope] | None) -> Scope:
    """The scope of an output link; refuses (MalformedResultError naming the output) a link
    that is not http(s), or points into a network outside `allowed` (public is always allowed;
    None allows any)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise MalformedResultError(f"output {name!r} has a filepath that is not a URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise MalformedResultError(
            f"output {name!r} has a filepath that is not an http(s) URL; refused"
        )
    scope = host_scope(parsed.host)
    if allowed is not None and scope != "public" and scope not in allowed:
        raise MalformedResultError(
            f"output {name!r} links to a {scope} address ({origin(parsed)}) although the "
            "endpoint is not on that network; refused"
        )
    return scope
