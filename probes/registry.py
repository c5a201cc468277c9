"""The only list of probe kinds: name -> probe function and name -> settings model."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel

from probes.base import ProbeFunc
from probes.dns import probe as dns_probe
from probes.http import probe as http_probe
from probes.icmp import probe as icmp_probe
from probes.settings import DnsSettings, HttpSettings, IcmpSettings, TcpSettings
from probes.tcp import probe as tcp_probe

ProbeKind = Literal["icmp", "tcp", "http", "dns"]
KINDS: tuple[ProbeKind, ...] = get_args(ProbeKind)

PROBES: dict[str, ProbeFunc] = {
    "icmp": icmp_probe,
    "tcp": tcp_probe,
    "http": http_probe,
    "dns": dns_probe,
}

SETTINGS: dict[str, type[BaseModel]] = {
    "icmp": IcmpSettings,
    "tcp": TcpSettings,
    "http": HttpSettings,
    "dns": DnsSettings,
}

assert tuple(PROBES) == tuple(SETTINGS) == KINDS, "every kind has a probe and a settings model"
