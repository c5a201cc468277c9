"""The MPP network of the end-to-end test, built from network namespaces (``tests.netns``).

::

                          ┌── isp1 (anchor 10.63.1.1) ──┐
    mon ── to-isp1/to-isp2┤                             ├── inet (applications 10.63.100.10)
     │                    └── isp2 (anchor 10.63.2.1) ──┘
     ├── to-sw ── sw (switch, 10.62.0.2) ── gerai (counter devices 10.64.0.x)
     └── to-vpn ── vpn (an agency's own line: gateway 10.65.0.1, its application 10.66.0.10)

``mon`` is where mpp-monitor, Prometheus, Alertmanager and the sink run (on its loopback).
It reaches the internet side (10.63.0.0/16) through a multipath route over both uplinks
with ``ignore_routes_with_linkdown``: cutting one uplink (its ISP side goes down, so the
monitor's end loses carrier) leaves the applications reachable, cutting both does not.
The ``vpn`` namespace is an agency's own line (Dukcapil's VPN to SIAK Terpusat): it does not
go through the uplinks, so cutting both leaves it, and the application behind it, reachable.
Each uplink is probed through its own source address (``ip rule from SRC lookup TABLE``),
and a table ends in ``unreachable`` so a dead uplink never falls back to the other one.

Only 10.x addresses, all inside namespaces the ``Topology`` creates and removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.netns import Namespace, Topology

# uplink n: monitor side 10.61.n.2/30, ISP side 10.61.n.1/30; ISP to internet 10.60.n.0/30
UPLINKS = (1, 2)
INTERNET = "10.63.0.0/16"
APP_ADDRESS = "10.63.100.10"
APP_PORT = 8080
SWITCH_ADDRESS = "10.62.0.2"
COUNTER_NET = "10.64.0.0/24"
# counter number -> device id -> address (behind the switch)
COUNTER_DEVICES: dict[int, dict[str, str]] = {
    1: {"pc": "10.64.0.11", "printer": "10.64.0.12"},
    2: {"pc": "10.64.0.21", "printer": "10.64.0.22"},
}
# an agency's own line: the monitor's end, the far end (the link's anchor), the application
VPN_SOURCE = "10.65.0.2"
VPN_GATEWAY = "10.65.0.1"
VPN_APP_ADDRESS = "10.66.0.10"
_SILENCE_TABLE = "e2e_silence"


def uplink_source(n: int) -> str:
    """The monitor's address on uplink n (the source its anchors are probed from)."""
    return f"10.61.{n}.2"


def uplink_anchor(n: int) -> str:
    """The anchor address inside ISP n's namespace."""
    return f"10.63.{n}.1"


@dataclass
class MppNet:
    """The namespaces of the test network and the faults that can be injected into it."""

    topo: Topology
    mon: Namespace
    isps: dict[int, Namespace]
    inet: Namespace
    sw: Namespace
    gerai: Namespace
    vpn: Namespace
    _silenced: set[str] = field(default_factory=set)

    def names(self) -> list[str]:
        """The namespace names (for the clean-up check)."""
        every = (self.mon, *self.isps.values(), self.inet, self.sw, self.gerai, self.vpn)
        return [ns.name for ns in every]

    # -- faults ------------------------------------------------------------------------------

    def cut_uplink(self, n: int) -> None:
        """The ISP's side of uplink n goes down: the monitor's end loses carrier."""
        self.isps[n].ip("link", "set", "to-mon", "down")

    def restore_uplink(self, n: int) -> None:
        """Bring uplink n back."""
        self.isps[n].ip("link", "set", "to-mon", "up")

    def switch_down(self) -> None:
        """Power the counter switch off: both its ports go down."""
        self.sw.ip("link", "set", "to-mon", "down")
        self.sw.ip("link", "set", "to-gerai", "down")

    def switch_up(self) -> None:
        """Power the counter switch on again."""
        self.sw.ip("link", "set", "to-mon", "up")
        self.sw.ip("link", "set", "to-gerai", "up")

    def silence(self, address: str) -> None:
        """A counter device stops answering (its packets are dropped on arrival)."""
        self._silenced.add(address)
        self._apply_silence()

    def unsilence(self, address: str) -> None:
        """A silenced device answers again."""
        self._silenced.discard(address)
        self._apply_silence()

    def _apply_silence(self) -> None:
        rules = "".join(f"  ip daddr {a} drop\n" for a in sorted(self._silenced))
        # one transaction: (re)create the table with exactly the silenced addresses
        self.gerai.nft(
            f"table ip {_SILENCE_TABLE} {{}}\n"
            f"delete table ip {_SILENCE_TABLE}\n"
            f"table ip {_SILENCE_TABLE} {{\n"
            f"  chain c {{ type filter hook prerouting priority -10;\n{rules}  }}\n"
            f"}}\n"
        )

    def add_loss(self, n: int, percent: int) -> None:
        """Drop ``percent``% of the echo requests arriving at ISP n from the monitor."""
        self.isps[n].drop_random(percent, 'iifname "to-mon" icmp type echo-request')

    def dropped(self, n: int) -> int:
        """How many echo requests ``add_loss`` dropped on uplink n so far."""
        return self.isps[n].dropped()

    def clear_loss(self, n: int) -> None:
        """Remove the loss on uplink n."""
        self.isps[n].exec(["nft", "delete", "table", "inet", "mppt_loss_prerouting"])


def build(topo: Topology) -> MppNet:
    """Create the namespaces, links, addresses and routes of the test network."""
    mon = topo.namespace("mon")
    # Before any veth exists, so every interface inherits it from "default".
    settings: dict[str, str | int] = {
        "net.ipv4.conf.all.ignore_routes_with_linkdown": 1,
        "net.ipv4.conf.default.ignore_routes_with_linkdown": 1,
        # the monitor's ICMP may use datagram sockets too
        "net.ipv4.ping_group_range": "0 2147483647",
    }
    mon.sysctl(**settings)
    inet = topo.namespace("inet")
    isps: dict[int, Namespace] = {}
    for n in UPLINKS:
        isp = topo.namespace(f"isp{n}", forwarding=True)
        isps[n] = isp
        topo.link(mon, isp, f"{uplink_source(n)}/30", f"10.61.{n}.1/30")
        topo.link(isp, inet, f"10.60.{n}.1/30", f"10.60.{n}.2/30")
        isp.add_address("lo", f"{uplink_anchor(n)}/32")
        isp.route(f"{APP_ADDRESS}/32", "via", f"10.60.{n}.2")
        # the internet side answers the monitor's uplink address through the same ISP
        inet.route(f"10.61.{n}.0/30", "via", f"10.60.{n}.1")
        # per-uplink probing: from this uplink's address, only through this uplink
        table = str(100 + n)
        mon.ip("rule", "add", "from", uplink_source(n), "lookup", table, "pref", str(1000 + n))
        mon.route("default", "via", f"10.61.{n}.1", "dev", "to-isp" + str(n), "table", table)
        mon.ip("route", "add", "unreachable", "default", "metric", "4000", "table", table)
    inet.add_address("lo", f"{APP_ADDRESS}/32")
    mon.route(
        INTERNET,
        *(w for n in UPLINKS for w in ("nexthop", "via", f"10.61.{n}.1", "dev", f"to-isp{n}")),
    )

    sw = topo.namespace("sw", forwarding=True)
    gerai = topo.namespace("gerai")
    topo.link(mon, sw, "10.62.0.1/24", f"{SWITCH_ADDRESS}/24")
    topo.link(sw, gerai, "10.64.0.1/24", [])
    gerai.add_addresses(
        "to-sw", [f"{a}/24" for devices in COUNTER_DEVICES.values() for a in devices.values()]
    )
    gerai.route("default", "via", "10.64.0.1")
    mon.route(COUNTER_NET, "via", SWITCH_ADDRESS)

    vpn = topo.namespace("vpn")
    topo.link(mon, vpn, f"{VPN_SOURCE}/30", f"{VPN_GATEWAY}/30")
    vpn.add_address("lo", f"{VPN_APP_ADDRESS}/32")
    vpn.route("default", "via", VPN_SOURCE)
    mon.route(f"{VPN_APP_ADDRESS}/32", "via", VPN_GATEWAY)
    return MppNet(topo=topo, mon=mon, isps=isps, inet=inet, sw=sw, gerai=gerai, vpn=vpn)
