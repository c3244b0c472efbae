"""Where Tocsin may send webhooks: the outbound-address policy.

A webhook address is typed by staff, so it must not turn Tocsin into a proxy into its own network.
Link-local and cloud-metadata destinations are always refused. Private, loopback, unspecified and
reserved ones are refused unless `TOCSIN_OUTBOUND_ALLOWED_NETWORKS` (CIDRs or host names) allows
them, for chat or push servers on the LAN. The address is checked when it is saved and again when
a message is sent, on the addresses the host resolves to then; `post` connects only to the address
it vetted, so a name cannot resolve to a public address for the check and a private one for the
connection.
"""

import ipaddress
import re
import socket
from functools import lru_cache

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never reachable, whatever the setting says: instance metadata hands out cloud credentials.
ALWAYS_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local, with 169.254.169.254 (AWS, GCP, Azure, ...)
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
    )
)
ALWAYS_REFUSED_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


class OutboundRefused(Exception):
    """The destination is not one Tocsin may send to; the message says why."""


@lru_cache(maxsize=8)
def _allowances(entries: tuple[str, ...]) -> tuple[tuple, frozenset[str]]:
    networks, hosts = [], set()
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not _HOST_NAME.fullmatch(entry):
                raise ImproperlyConfigured(
                    f"TOCSIN_OUTBOUND_ALLOWED_NETWORKS: {entry!r} is neither a CIDR nor a host name."
                ) from None
            hosts.add(entry)
    return tuple(networks), frozenset(hosts)


def allowances() -> tuple[tuple, frozenset[str]]:
    """(networks, host names) that may be private or loopback, from the setting."""
    return _allowances(tuple(settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS))


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version == 6:
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def check_ip(ip: IPAddress, host: str) -> None:
    """Refuse `ip` (one address `host` stands for) unless Tocsin may send to it."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        check_ip(inner, host)
    if any(ip in network for network in ALWAYS_REFUSED_NETWORKS) or ip.is_link_local:
        raise OutboundRefused(
            f"{host} is a link-local or cloud-metadata address ({ip}): Tocsin never sends there."
        )
    if ip.is_global and not ip.is_multicast:
        return
    networks, hosts = allowances()
    if host in hosts or any(ip in network for network in networks):
        return
    raise OutboundRefused(
        f"{host} is a private, loopback or reserved address ({ip}); allow it with "
        "TOCSIN_OUTBOUND_ALLOWED_NETWORKS if it is yours."
    )


def _host(url: httpx.URL) -> str:
    host = url.host.lower().rstrip(".")
    if not host:
        raise OutboundRefused("The URL has no host.")
    if host in ALWAYS_REFUSED_HOSTS:
        raise OutboundRefused(f"{host} is a cloud-metadata address: Tocsin never sends there.")
    return host


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to now (a literal address is itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefused(f"Cannot resolve {host}: {error}") from error
    # Strip an IPv6 zone ("fe80::1%eth0"): the address itself decides.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))


def vet(url: str | httpx.URL) -> IPAddress:
    """The address to connect to for `url`, every address its host resolves to being allowed;
    raises OutboundRefused otherwise (or when it does not resolve)."""
    url = httpx.URL(url)
    host = _host(url)
    addresses = resolve(host, url.port or (443 if url.scheme == "https" else 80))
    for ip in addresses:
        check_ip(ip, host)
    return addresses[0]


def check_address(url: str) -> None:
    """The check when an address is saved: refuse a destination that is refused now. A name
    that does not resolve yet is accepted (DNS may be down, or the host not set up yet): it is
    checked again, on what it resolves to, each time a message is sent."""
    parsed = httpx.URL(url)
    host = _host(parsed)
    try:
        addresses = resolve(host, parsed.port or 0)
    except OutboundRefused:
        return
    for ip in addresses:
        check_ip(ip, host)


def post(client: httpx.Client, url: str | httpx.URL, **kwargs) -> httpx.Response:
    """`client.post(url, ...)`, connected to the vetted address of `url`'s host. The Host header
    and, over TLS, the server name (SNI and certificate check) stay those of `url`."""
    url = httpx.URL(url)
    ip = vet(url)
    headers = {**kwargs.pop("headers", {}), "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return client.post(
        url.copy_with(host=str(ip)), headers=headers, extensions=extensions, **kwargs
    )
