"""The end-to-end network itself: each injected fault cuts exactly what it should.

Checked with ``ping`` from the monitor's namespace, so a failing alerting test can be told
apart from a broken test network.
"""

from __future__ import annotations

import shutil

import pytest

from tests.e2e import topology as T
from tests.netns import Topology, list_namespaces, why_no_netns

_REASON = why_no_netns() or (None if shutil.which("ping") else "needs ping (iputils-ping)")
pytestmark = [pytest.mark.netns, pytest.mark.skipif(_REASON is not None, reason=str(_REASON))]

PROBES = {
    "anchor1": (T.uplink_anchor(1), T.uplink_source(1)),
    "anchor2": (T.uplink_anchor(2), T.uplink_source(2)),
    "anchor1-via-uplink2": (T.uplink_anchor(1), T.uplink_source(2)),
    "app": (T.APP_ADDRESS, None),
    "switch": (T.SWITCH_ADDRESS, None),
    "c1-pc": (T.COUNTER_DEVICES[1]["pc"], None),
    "c1-printer": (T.COUNTER_DEVICES[1]["printer"], None),
}


def _reach(net: T.MppNet) -> set[str]:
    """Names of the PROBES that answer one echo from the monitor's namespace."""
    ok = set()
    for name, (dst, src) in PROBES.items():
        argv = ["ping", "-n", "-c", "1", "-W", "1", dst, *(["-I", src] if src else [])]
        if net.mon.exec(argv, check=False, timeout=10).returncode == 0:
            ok.add(name)
    return ok


ALL = set(PROBES) - {"anchor1-via-uplink2"}  # an uplink never carries the other's probes


def test_faults_cut_exactly_their_part_of_the_network() -> None:
    """Uplinks, switch and device faults, each applied and removed."""
    names: list[str] = []
    with Topology() as topo:
        net = T.build(topo)
        names = net.names()
        assert _reach(net) == ALL
        net.cut_uplink(1)
        assert _reach(net) == ALL - {"anchor1"}  # the application stays reachable
        net.cut_uplink(2)
        assert _reach(net) == ALL - {"anchor1", "anchor2", "app"}
        net.restore_uplink(1)
        net.restore_uplink(2)
        net.switch_down()
        assert _reach(net) == ALL - {"switch", "c1-pc", "c1-printer"}
        net.switch_up()
        net.silence(T.COUNTER_DEVICES[1]["printer"])
        assert _reach(net) == ALL - {"c1-printer"}
        net.unsilence(T.COUNTER_DEVICES[1]["printer"])
        assert _reach(net) == ALL
    assert names and not set(names) & set(list_namespaces())
