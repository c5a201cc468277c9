"""A hostile inventory: markup and script in every name the service shows (status page,
API, report, messages). Shared by the security fault tests and the status page tests."""

from __future__ import annotations

EVIL = "<script>window.__xss=1</script>"
EVIL_INVENTORY = f"""
defaults: {{interval: 10s, timeout: 2s}}
sites:
  - id: evil
    name: "MPP {EVIL}"
    teams:
      - {{id: kominfo, name: "Kominfo {EVIL}"}}
      - {{id: it-a, name: "Tim <b>A</b> & co"}}
    links:
      - id: isp
        name: "ISP {EVIL}"
        provider: "<img src=x onerror=alert(1)>"
        anchors: [{{probe: tcp, address: 127.0.0.1, port: 9}}]
    infrastructure:
      - {{id: sw, name: "Switch {EVIL}", kind: switch, address: 127.0.0.2, checks: ["tcp:9"]}}
    agencies:
      - id: a
        name: "Agency {EVIL}"
        short_name: "<i>A</i>"
        team: it-a
        applications:
          - {{id: app, name: "App {EVIL}", url: "http://127.0.0.3:9/", links: [isp]}}
    counters:
      - number: 1
        name: "Gerai {EVIL}"
        agency: a
        switch: sw
        devices: [{{id: pc, name: "PC {EVIL}", address: 127.0.0.4, checks: ["tcp:9"]}}]
"""
