"""State: hysteresis, dependencies and fault owners, maintenance, roll-ups, reload diff."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.state import State
from probes.base import ProbeResult

from .helpers import Mpp, entity, fail, ok, plan, target

T0 = 1_700_000_000.0


def feed(state: State, results: dict[str, ProbeResult], wall: float, times: int = 1) -> None:
    """Record the same results for several targets, `times` rounds."""
    for k in range(times):
        for tid, r in results.items():
            state.record(tid, r, wall + k)


def all_ok(mpp: Mpp) -> dict[str, ProbeResult]:
    return {t.id: ok() for t in mpp.targets}


@pytest.fixture
def state(mpp: Mpp) -> State:
    s = State(wall=lambda: T0)
    s.apply_plan(mpp.plan(), T0)
    return s


def status(state: State, eid: str) -> tuple[str, str]:
    es = state.entity_state(eid)
    return es.status, es.owner


def test_unknown_before_first_result(state: State, mpp: Mpp) -> None:
    snap = state.snapshot(T0)
    assert {e.status for e in snap.entities.values()} == {"unknown"}
    assert snap.counters[0].can_serve is None
    assert snap.sites[0].internet_up is None
    assert {t.status for t in snap.targets.values()} == {"unknown"}
    assert snap.faults == ()


def test_one_lost_result_does_not_flap_two_do(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    assert status(state, mpp.printer.id) == ("up", "")
    state.record(mpp.t_printer.id, fail(), T0 + 15)
    assert status(state, mpp.printer.id) == ("up", "")
    state.record(mpp.t_printer.id, ok(), T0 + 30)  # streak broken
    state.record(mpp.t_printer.id, fail(), T0 + 45)
    assert status(state, mpp.printer.id) == ("up", "")
    state.record(mpp.t_printer.id, fail(), T0 + 60)
    assert status(state, mpp.printer.id) == ("down", "bpjs")
    assert state.entity_state(mpp.printer.id).since == T0 + 60
    # coming back also needs two
    state.record(mpp.t_printer.id, ok(), T0 + 75)
    assert status(state, mpp.printer.id) == ("down", "bpjs")
    state.record(mpp.t_printer.id, ok(), T0 + 90)
    assert status(state, mpp.printer.id) == ("up", "")


def test_hysteresis_counts_are_configurable(mpp: Mpp) -> None:
    s = State(down_after=3, up_after=1)
    s.apply_plan(mpp.plan(), T0)
    feed(s, all_ok(mpp), T0)
    feed(s, {mpp.t_printer.id: fail()}, T0 + 1, times=2)
    assert status(s, mpp.printer.id)[0] == "up"
    feed(s, {mpp.t_printer.id: fail()}, T0 + 3)
    assert status(s, mpp.printer.id)[0] == "down"
    feed(s, {mpp.t_printer.id: ok()}, T0 + 4)
    assert status(s, mpp.printer.id)[0] == "up"
    with pytest.raises(ValueError, match="at least 1"):
        State(down_after=0)


def test_first_result_is_adopted_at_once(state: State, mpp: Mpp) -> None:
    feed(state, {mpp.t_printer.id: fail("connect_refused")}, T0)
    assert status(state, mpp.printer.id) == ("down", "bpjs")


def test_switch_down_makes_devices_unreachable_owned_by_switch_team(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    lan = [mpp.t_access.id, mpp.t_pc.id, mpp.t_pc_rdp.id, mpp.t_printer.id]
    # devices notice first (the access switch probe has not failed twice yet)
    feed(state, {t: fail() for t in lan[1:]}, T0 + 10, times=2)
    assert status(state, mpp.pc.id) == ("down", "bpjs")
    feed(state, {mpp.t_access.id: fail()}, T0 + 20, times=2)
    assert status(state, mpp.access.id) == ("down", "dpmptsp")
    assert status(state, mpp.pc.id) == ("unreachable", "dpmptsp")
    assert status(state, mpp.printer.id) == ("unreachable", "dpmptsp")
    assert state.target_status(state.target_state(mpp.t_pc.id)) == "unreachable"
    snap = state.snapshot(T0 + 30)
    assert [(f.id, f.status, f.owner) for f in snap.faults] == [
        (mpp.access.id, "down", "dpmptsp"),
        (mpp.pc.id, "unreachable", "dpmptsp"),
        (mpp.printer.id, "unreachable", "dpmptsp"),
    ]
    assert snap.counters[0].can_serve is False
    # the switch comes back: devices are their own again (still failing -> down)
    feed(state, {mpp.t_access.id: ok()}, T0 + 40, times=2)
    assert status(state, mpp.pc.id) == ("down", "bpjs")


def test_owner_is_found_recursively_through_failed_parents(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    lan = [mpp.t_core.id, mpp.t_access.id, mpp.t_pc.id, mpp.t_pc_rdp.id, mpp.t_printer.id]
    feed(state, {t: fail() for t in lan}, T0 + 10, times=2)
    assert status(state, mpp.core.id) == ("down", "kominfo")
    assert status(state, mpp.access.id) == ("unreachable", "kominfo")
    assert status(state, mpp.pc.id) == ("unreachable", "kominfo")


def test_all_links_down_makes_application_unreachable_owned_by_kominfo(
    state: State, mpp: Mpp
) -> None:
    feed(state, all_ok(mpp), T0)
    app = {mpp.t_app.id: fail("connect_timeout"), mpp.t_app_dns.id: ok()}
    feed(state, {mpp.t_isp_a_gw.id: fail(), mpp.t_isp_a_dns.id: fail()}, T0 + 1, times=2)
    assert state.entity_state(mpp.isp_a.id).link_state == "down"
    feed(state, app, T0 + 3, times=2)
    # one link down: the application's failure is its own team's
    assert status(state, mpp.app.id) == ("down", "bpjs")
    feed(state, {mpp.t_isp_b.id: fail()}, T0 + 5, times=2)
    assert status(state, mpp.app.id) == ("unreachable", "kominfo")
    assert status(state, mpp.isp_b.id) == ("down", "kominfo")
    assert state.site_internet_up("paser") is False


def test_application_stays_up_with_one_link_down(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    feed(state, {mpp.t_isp_b.id: fail()}, T0 + 1, times=2)
    assert status(state, mpp.isp_b.id) == ("down", "kominfo")
    assert status(state, mpp.app.id) == ("up", "")
    assert state.site_internet_up("paser") is True
    assert state.counter_can_serve(mpp.counter) == (True, ())


def test_link_is_up_while_any_anchor_answers(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    feed(state, {mpp.t_isp_a_gw.id: fail()}, T0 + 1, times=2)
    assert status(state, mpp.isp_a.id) == ("up", "")
    assert state.target_status(state.target_state(mpp.t_isp_a_gw.id)) == "down"
    assert state.target_status(state.target_state(mpp.t_isp_a_dns.id)) == "up"


def test_link_degraded_by_loss_or_latency_with_hysteresis(state: State, mpp: Mpp) -> None:
    good = ok(loss_ratio=0.0, rtt_median_seconds=0.02)
    feed(state, {**all_ok(mpp), mpp.t_isp_a_gw.id: good, mpp.t_isp_a_dns.id: good}, T0)
    es = state.entity_state(mpp.isp_a.id)
    assert es.link_state == "up"
    lossy = ok(loss_ratio=0.34, rtt_median_seconds=0.02)
    state.record(mpp.t_isp_a_gw.id, lossy, T0 + 1)  # mean loss 0.17 > 0.1: one observation
    assert es.link_state == "up"
    state.record(mpp.t_isp_a_dns.id, good, T0 + 2)  # still 0.17: second observation
    assert es.link_state == "degraded"
    assert es.loss_ratio == pytest.approx(0.17)
    assert es.status == "up"  # degraded is a link state, not a fault
    assert state.site_internet_up("paser") is True
    slow = ok(loss_ratio=0.0, rtt_median_seconds=0.3)
    feed(state, {mpp.t_isp_a_gw.id: slow, mpp.t_isp_a_dns.id: slow}, T0 + 3, times=2)
    assert es.link_state == "degraded"
    assert es.rtt_median == pytest.approx(0.3)
    feed(state, {mpp.t_isp_a_gw.id: good, mpp.t_isp_a_dns.id: good}, T0 + 5)
    assert es.link_state == "degraded"  # median(0.02, 0.3) was still slow, then one good
    state.record(mpp.t_isp_a_gw.id, good, T0 + 6)
    assert es.link_state == "up"


def test_maintenance_window(mpp: Mpp) -> None:
    window = (T0 + 100, T0 + 200)

    def in_maintenance(eid: str, wall: float) -> bool:
        return eid == mpp.printer.id and window[0] <= wall < window[1]

    s = State(in_maintenance=in_maintenance)
    s.apply_plan(mpp.plan(), T0)
    feed(s, all_ok(mpp), T0)
    s.refresh(T0 + 100)
    assert status(s, mpp.printer.id) == ("maintenance", "")
    # a working printer in maintenance still lets the counter serve
    assert s.counter_can_serve(mpp.counter) == (True, ())
    feed(s, {mpp.t_printer.id: fail()}, T0 + 110, times=2)
    assert status(s, mpp.printer.id) == ("maintenance", "")
    assert s.target_status(s.target_state(mpp.t_printer.id)) == "maintenance"
    assert s.counter_can_serve(mpp.counter) == (False, (mpp.printer.id,))
    s.refresh(T0 + 200)  # the window ends while it is still failing
    assert status(s, mpp.printer.id) == ("down", "bpjs")
    assert s.entity_state(mpp.printer.id).since == T0 + 200


def test_failing_children_of_a_parent_in_maintenance_are_in_maintenance(mpp: Mpp) -> None:
    s = State(in_maintenance=lambda eid, wall: eid == mpp.access.id)
    s.apply_plan(mpp.plan(), T0)
    feed(s, all_ok(mpp), T0)
    lan = [mpp.t_access.id, mpp.t_pc.id, mpp.t_pc_rdp.id, mpp.t_printer.id]
    feed(s, {t: fail() for t in lan}, T0 + 1, times=2)
    assert status(s, mpp.access.id) == ("maintenance", "")
    assert status(s, mpp.pc.id) == ("maintenance", "")
    assert s.snapshot(T0 + 5).faults == ()


def test_counter_can_serve_needs_devices_and_critical_applications(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    assert state.counter_can_serve(mpp.counter) == (True, ())
    feed(state, {mpp.t_app.id: fail("status")}, T0 + 1, times=2)
    assert state.counter_can_serve(mpp.counter) == (False, (mpp.app.id,))
    # a non-critical application does not stop the counter
    noncritical = replace(mpp.app, critical=False)
    p = mpp.plan()
    state.apply_plan(replace(p, entities={**p.entities, mpp.app.id: noncritical}), T0 + 2)
    assert state.counter_can_serve(mpp.counter) == (True, ())


def test_counters_history_and_reasons(mpp: Mpp) -> None:
    s = State(history_size=3)
    s.apply_plan(mpp.plan(), T0)
    tid = mpp.t_pc.id
    for i, r in enumerate([ok(0.1), fail("timeout"), fail("timeout"), fail("refused"), ok(0.2)]):
        s.record(tid, r, T0 + i)
    ts = s.target_state(tid)
    assert (ts.runs, ts.successes, ts.failures) == (5, 2, {"timeout": 2, "refused": 1})
    assert ts.wall == T0 + 4
    hist = s.history(tid)
    assert [(h.wall, h.success, h.reason) for h in hist] == [
        (T0 + 2, False, "timeout"),
        (T0 + 3, False, "refused"),
        (T0 + 4, True, ""),
    ]
    assert hist[-1].duration_seconds == 0.2
    assert s.record("paser/nowhere/x", ok(), T0) is False


def test_reload_keeps_unchanged_drops_removed_resets_changed_address(
    state: State, mpp: Mpp
) -> None:
    feed(state, all_ok(mpp), T0, times=3)
    feed(state, {mpp.t_printer.id: fail()}, T0 + 5, times=2)
    assert status(state, mpp.printer.id)[0] == "down"
    since = state.entity_state(mpp.printer.id).since
    moved = replace(mpp.t_pc_rdp, address="127.0.0.9:3389")
    slower = replace(mpp.t_pc, interval=60.0)
    targets = [t for t in mpp.targets if t.id not in (mpp.t_app_dns.id, mpp.t_pc_rdp.id)]
    targets = [slower if t.id == slower.id else t for t in targets] + [moved]
    state.apply_plan(plan(mpp.entities, targets, [mpp.counter]), T0 + 10)
    assert state.target_state(mpp.t_printer.id).runs == 5
    assert state.target_state(mpp.t_pc.id).runs == 3  # interval change keeps counters
    assert state.target_state(mpp.t_pc.id).target.interval == 60.0
    assert state.target_state(moved.id).runs == 0  # another address: another series
    with pytest.raises(KeyError):
        state.target_state(mpp.t_app_dns.id)
    assert status(state, mpp.printer.id)[0] == "down"
    assert state.entity_state(mpp.printer.id).since == since
    # results of a removed target are ignored
    assert state.record(mpp.t_app_dns.id, ok(), T0 + 11) is False


def test_bad_plan_is_rejected_and_changes_nothing(state: State, mpp: Mpp) -> None:
    a = entity("infra", "a", "kominfo", depends_on=["paser/infra/b"])
    b = entity("infra", "b", "kominfo", depends_on=["paser/infra/a"])
    with pytest.raises(ValueError, match="cycle"):
        state.apply_plan(plan([*mpp.entities, a, b], mpp.targets), T0)
    orphan = target(entity("infra", "ghost", "kominfo"), "icmp")
    with pytest.raises(ValueError, match="unknown entity paser/infra/ghost"):
        state.apply_plan(plan(mpp.entities, [*mpp.targets, orphan]), T0)
    with pytest.raises(ValueError, match="duplicate target"):
        state.apply_plan(plan(mpp.entities, [*mpp.targets, mpp.t_pc]), T0)
    assert len(list(state.target_states())) == len(mpp.targets)


def test_snapshot_views_are_plain_data(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    feed(state, {mpp.t_isp_a_gw.id: ok(loss_ratio=0.0, rtt_median_seconds=0.01)}, T0 + 1)
    snap = state.snapshot(T0 + 2)
    assert snap.taken_at == T0 + 2
    assert [s.site for s in snap.sites] == ["paser"]
    assert snap.sites[0].links == (mpp.isp_a.id, mpp.isp_b.id)
    link = snap.links[0]
    assert (link.id, link.state, link.loss_ratio) == (mpp.isp_a.id, "up", 0.0)
    c = snap.counters[0]
    assert (c.number, c.can_serve, c.devices) == (1, True, (mpp.pc.id, mpp.printer.id))
    pc = snap.entities[mpp.pc.id]
    assert (pc.status, pc.targets) == ("up", (mpp.t_pc.id, mpp.t_pc_rdp.id))
    tv = snap.targets[mpp.t_pc.id]
    assert (tv.status, tv.success, tv.runs, tv.last_run) == ("up", True, 1, T0)
    assert not hasattr(tv, "address")
    assert state.snapshot(T0, include_targets=False).targets == {}


def test_counter_status_says_whose_fault_it_is(state: State, mpp: Mpp) -> None:
    feed(state, all_ok(mpp), T0)
    assert state.counter_status(mpp.counter) == ("up", "")
    # its own printer: the agency's fault
    feed(state, {mpp.t_printer.id: fail()}, T0 + 1, times=2)
    assert state.counter_status(mpp.counter) == ("down", "bpjs")
    feed(state, {mpp.t_printer.id: ok()}, T0 + 3, times=2)
    assert state.counter_status(mpp.counter) == ("up", "")
    # the access switch down: devices unreachable, the counter is the switch team's problem
    lan = [mpp.t_access.id, mpp.t_pc.id, mpp.t_pc_rdp.id, mpp.t_printer.id]
    feed(state, {t: fail() for t in lan}, T0 + 5, times=2)
    assert state.counter_status(mpp.counter) == ("unreachable", "dpmptsp")
    snap = state.snapshot(T0 + 7)
    assert (snap.counters[0].status, snap.counters[0].owner) == ("unreachable", "dpmptsp")
    # every uplink down as well: still not the agency's fault
    feed(state, {t.id: fail() for t in mpp.targets}, T0 + 8, times=2)
    status_now, owner = state.counter_status(mpp.counter)
    assert status_now == "unreachable" and owner in ("dpmptsp", "kominfo")


def test_a_vpn_up_is_not_the_internet() -> None:
    from monitor.inventory import load_plan

    text = """\
sites:
  - id: paser
    name: MPP
    teams: [{id: kominfo, name: Kominfo}, {id: it-dukcapil, name: Dukcapil}]
    links:
      - {id: telkom, name: Telkom, anchors: [192.0.2.1]}
      - {id: iconplus, name: ICON+, kind: dedicated, anchors: [192.0.2.2]}
      - {id: siak, name: VPN SIAK, kind: vpn, team: it-dukcapil, anchors: [10.250.0.1]}
"""
    plan = load_plan("inv.yaml", text)
    s = State(wall=lambda: T0)
    s.apply_plan(plan, T0)
    ids = {t.entity.rsplit("/", 1)[-1]: t.id for t in plan.targets}
    feed(s, {ids["telkom"]: fail(), ids["iconplus"]: fail(), ids["siak"]: ok()}, T0, times=2)
    # both internet uplinks down: the site is offline although Dukcapil's VPN answers
    assert s.site_internet_up("paser") is False
    feed(s, {ids["iconplus"]: ok()}, T0 + 5, times=2)
    assert s.site_internet_up("paser") is True
