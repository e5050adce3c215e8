"""The consumer leg's set-up: provider, SSP proxy and consumer gateway, and their settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks._bench_setup import gateway_config
from benchmarks._children import ROOT, Child, ChildError, Children, free_port, python_module
from benchmarks._constants import BASE_PATH, SERVICE_ID

CONSUMER_SLOTS = 50
SERVICE_CODE = "UTC-DEMO"
FACILITY = "CAS-BENCH"
CONSUMER_ODS = "A1001"
PROVIDER_ASID = "200000000115"
CONSUMER_ASID = "200000000359"
TABLES = ROOT / "mappings" / "hl7_front_door" / "demo"
LONDON = ZoneInfo("Europe/London")
WAIT_S = 30.0
SCENARIOS = ("consumer-slot-search", "consumer-book+cancel")
TARGETS = ("consumer", "bare")


def consumer_config(folder: Path, port: int, hl7_port: int, ssp_url: str) -> Path:
    """The consumer gateway: HL7 front door on, one national-fhir adapter via the proxy."""
    options = {
        "ssp_url": ssp_url,
        "asid": CONSUMER_ASID,
        "directory": str(folder / "directory.csv"),
        "issuer": f"http://127.0.0.1:{port}/",
        "organisation": {"ods_code": "X26", "name": "Benchmark consumer gateway"},
        "device": {
            "system": f"http://127.0.0.1:{port}/Id/device",
            "value": "uec-gateway-bench",
            "model": "uec-gateway",
            "version": "0.1.0",
        },
        "timeout_s": WAIT_S,
    }
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{BASE_PATH}
security:
  ssp:
    enforcement: "off"
store:
  path: {folder / "consumer.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: national
    kind: national-fhir
    options: {json.dumps(options)}
services:
  - id: "{SERVICE_ID}"
    adapter: national
hl7_front_door:
  host: 127.0.0.1
  port: {hl7_port}
  mappings: {TABLES}
  time_budget_s: {WAIT_S}
  consumers:
    - sending_facility: {FACILITY}
      ods_code: {CONSUMER_ODS}
      name: Benchmark legacy CAS
"""
    path = folder / "consumer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_directory(folder: Path, provider_root: str) -> Path:
    path = folder / "directory.csv"
    path.write_text(
        "service_id,asid,service_root,name\n"
        f"{SERVICE_ID},{PROVIDER_ASID},{provider_root},Demo urgent treatment centre\n",
        encoding="utf-8",
    )
    return path


async def wait_for_port(child: Child, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise ChildError(f"{child.name} not listening on {port} after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


@dataclass
class Chain:
    provider: Child
    proxy: Child
    consumer: Child
    hl7_port: int

    @property
    def provider_root(self) -> str:
        return f"{self.provider.url}{BASE_PATH}"


async def assemble(children: Children, folder: Path) -> Chain:
    provider = await children.launch(
        "provider",
        lambda port: python_module(
            "gateway", "serve", "--config", str(gateway_config(folder, port))
        ),
        folder / "provider.log",
    )
    root = f"{provider.url}{BASE_PATH}"
    write_directory(folder, root)
    proxy = await children.launch(
        "ssp-proxy",
        lambda port: python_module("benchmarks.ssp_proxy", "--port", str(port), "--allowed", root),
        folder / "ssp-proxy.log",
    )
    hl7_ports: list[int] = []

    def consumer_argv(port: int) -> list[str]:
        hl7_ports.append(free_port())  # a fresh one on every (re)try of the launch
        path = consumer_config(folder, port, hl7_ports[-1], proxy.url)
        return python_module("gateway", "serve", "--config", str(path))

    consumer = await children.launch("consumer", consumer_argv, folder / "consumer.log")
    await wait_for_port(consumer, hl7_ports[-1])
    return Chain(provider, proxy, consumer, hl7_ports[-1])
