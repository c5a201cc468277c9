"""Probes: one protocol per module, one signature, one name -> function table."""

from __future__ import annotations

from probes.base import ProbeContext, ProbeFunc, ProbeResult, ProbeTarget

__all__ = ["ProbeContext", "ProbeFunc", "ProbeResult", "ProbeTarget", "get_probe"]


def get_probe(kind: str) -> ProbeFunc:
    """Return the probe function for a kind (``probes.registry.KINDS``)."""
    from probes.registry import PROBES

    try:
        return PROBES[kind]
    except KeyError:
        raise KeyError(f"unknown probe kind {kind!r}; known: {', '.join(sorted(PROBES))}") from None
