"""The name -> probe function table."""

from __future__ import annotations

from probes.base import ProbeFunc
from probes.dns import probe as dns_probe
from probes.http import probe as http_probe
from probes.icmp import probe as icmp_probe
from probes.tcp import probe as tcp_probe

PROBES: dict[str, ProbeFunc] = {
    "icmp": icmp_probe,
    "tcp": tcp_probe,
    "http": http_probe,
    "dns": dns_probe,
}
