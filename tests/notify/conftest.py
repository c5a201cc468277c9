"""Fixtures shared by the notifier tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.notify.gateways import FakeGateway


@pytest.fixture
async def gw() -> AsyncIterator[FakeGateway]:
    """A fake gateway on 127.0.0.1 (every kind's API), closed after the test."""
    gateway = FakeGateway()
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()
