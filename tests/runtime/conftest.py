"""Fixtures for the runtime tests."""

from __future__ import annotations

import pytest

from .helpers import FakeProbes, Mpp


@pytest.fixture
def mpp() -> Mpp:
    """A small MPP topology with 15 s intervals."""
    return Mpp()


@pytest.fixture
def fake_probes() -> FakeProbes:
    """Scripted fake probes for every kind."""
    return FakeProbes()
