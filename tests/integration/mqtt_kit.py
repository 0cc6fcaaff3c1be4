"""A real MQTT broker for tests: mosquitto (the Debian package) started on a free port, and restarted."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

BROKER = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def start_broker(port: int) -> subprocess.Popen[bytes]:
    if BROKER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but mosquitto is not installed (.ci/run installs it)", pytrace=False)
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    proc = subprocess.Popen([BROKER, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            asyncio.run(_ping(port))
            return proc
        except aiomqtt.MqttError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("mosquitto did not start")


async def _ping(port: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port):
        return


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish each (topic, payload) with QoS 1, in order, from a client of its own."""

    async def send() -> None:
        async with aiomqtt.Client("127.0.0.1", port) as client:
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1)

    asyncio.run(send())


def wait_until(condition: Callable[[], bool], timeout_s: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
