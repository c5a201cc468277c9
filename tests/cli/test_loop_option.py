"""`--loop`: uvloop by default when installed (auto), asyncio's loop when asked or without it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from monitor import logs
from monitor.commands import run


def _args(loop: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run.add_service_arguments(parser, "127.0.0.1:0", "test")
    return parser.parse_args(["--config", "x.yaml", "--loop", loop])


Main = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _loop_module(seen: list[str]) -> Main:
    """A service main that notes the module of the loop it runs on."""

    async def main(args: argparse.Namespace) -> int:
        seen.append(type(asyncio.get_running_loop()).__module__)
        return 7

    return main


@pytest.fixture(autouse=True)
def _no_log_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "configure", lambda level, fmt: None)


def test_asyncio_when_asked() -> None:
    seen: list[str] = []
    assert run.run_service(_args("asyncio"), _loop_module(seen)) == 7
    assert seen == ["asyncio.unix_events"]


def test_the_default_is_auto_which_takes_uvloop_when_installed() -> None:
    parser = argparse.ArgumentParser()
    run.add_service_arguments(parser, "127.0.0.1:0", "test")
    args = parser.parse_args(["--config", "x.yaml"])
    assert args.loop == "auto"
    pytest.importorskip("uvloop")  # a dependency on Linux
    seen: list[str] = []
    assert run.run_service(args, _loop_module(seen)) == 7
    assert seen == ["uvloop"]


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    seen: list[str] = []
    assert run.run_service(_args("auto"), _loop_module(seen)) == 7
    assert seen == ["asyncio.unix_events"]


def test_uvloop_when_asked() -> None:
    pytest.importorskip("uvloop")
    seen: list[str] = []
    assert run.run_service(_args("uvloop"), _loop_module(seen)) == 7
    assert seen == ["uvloop"]


def test_uvloop_missing_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    said: list[str] = []
    monkeypatch.setattr(logs, "say", lambda text, *a: said.append(text))
    seen: list[str] = []
    assert run.run_service(_args("uvloop"), _loop_module(seen)) == 1
    assert seen == []
    assert said and "uvloop is not installed" in said[0]


async def test_async_tests_run_on_the_loop_mpp_test_loop_names() -> None:
    wanted = "uvloop" if os.environ.get("MPP_TEST_LOOP") == "uvloop" else "asyncio.unix_events"
    assert type(asyncio.get_running_loop()).__module__ == wanted
