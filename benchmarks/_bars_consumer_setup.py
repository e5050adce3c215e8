"""The BaRS consumer leg's set-up: receiver, mock national proxy and consumer gateway.

1. the **receiver**: ``python -m gateway serve`` with the BaRS door over a fresh
   embedded demo diary (``benchmarks._bars_setup.bars_config``);
2. the **proxy**: ``python -m gateway simulate bars-proxy``, routing the demo
   service's ``NHSD-Target-Identifier`` to the receiver's BaRS root, with one
   registered sender application whose RSA key this set-up generates;
3. the **consumer** gateway: the HL7 v2 front door (tables
   ``mappings/hl7_front_door/demo``) and one ``kind: bars`` adapter, which signs
   its client assertion with that key, takes a token from the proxy and sends
   every call through it (targets CSV written next to the key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks._bars_ops import BARS_PATH
from benchmarks._bars_setup import TARGET, bars_config
from benchmarks._children import Child, Children, free_port, python_module
from benchmarks._constants import SERVICE_ID
from benchmarks._consumer_setup import CONSUMER_ODS, FACILITY, TABLES, WAIT_S, wait_for_port
from gateway.bars_proxy import API_ROOT

CLIENT_ID = "uec-gateway-bench"
KID = "bench-1"
SCENARIOS = ("bars-consumer-slot-search", "bars-consumer-book+cancel")
RECEIVER_ODS = "X26"


def write_keys(folder: Path) -> tuple[Path, Path]:
    """A fresh RSA key pair for the sender application: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "sender-key.pem"
    public = folder / "sender-key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def write_targets(folder: Path) -> Path:
    """The consumer's targets table: the demo service -> the receiver's target identifier."""
    path = folder / "targets.csv"
    path.write_text(
        "service_id,target_system,target_value,ods_code,name\n"
        f"{SERVICE_ID},{TARGET.system},{TARGET.value},{RECEIVER_ODS},"
        "Demo urgent treatment centre\n",
        encoding="utf-8",
    )
    return path


def consumer_config(folder: Path, port: int, hl7_port: int, proxy_url: str, key: Path) -> Path:
    """The consumer gateway: HL7 front door on, one ``bars`` adapter through the proxy."""
    options = {
        "proxy_url": f"{proxy_url}{API_ROOT}",
        "token_url": f"{proxy_url}/oauth2/token",
        "client_id": CLIENT_ID,
        "kid": KID,
        "private_key_file": str(key),
        "targets": str(write_targets(folder)),
        "organisation": {"ods_code": "X26", "name": "Benchmark consumer gateway"},
        "software": {"name": "uec-gateway", "version": "0.1.0"},
        "timeout_s": WAIT_S,
    }
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
security:
  ssp:
    enforcement: "off"
store:
  path: {folder / "consumer.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: bars
    kind: bars
    options: {json.dumps(options)}
services:
  - id: "{SERVICE_ID}"
    adapter: bars
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


@dataclass
class BarsChain:
    receiver: Child
    proxy: Child
    consumer: Child
    hl7_port: int

    @property
    def receiver_root(self) -> str:
        return f"{self.receiver.url}{BARS_PATH}"


async def assemble(children: Children, folder: Path) -> BarsChain:
    """Start receiver, proxy and consumer, each on a fresh port, and wait for them."""
    receiver = await children.launch(
        "receiver",
        lambda port: python_module("gateway", "serve", "--config", str(bars_config(folder, port))),
        folder / "receiver.log",
    )
    private, public = write_keys(folder)
    route = f"{TARGET.system}|{TARGET.value}={receiver.url}{BARS_PATH}"
    proxy = await children.launch(
        "bars-proxy",
        lambda port: python_module(
            "gateway",
            "simulate",
            "bars-proxy",
            *("--port", str(port), "--route", route),
            *("--client", f"{CLIENT_ID}:{KID}:{public}", "--log-format", "json"),
        ),
        folder / "bars-proxy.log",
    )
    hl7_ports: list[int] = []

    def consumer_argv(port: int) -> list[str]:
        hl7_ports.append(free_port())  # a fresh one on every (re)try of the launch
        path = consumer_config(folder, port, hl7_ports[-1], proxy.url, private)
        return python_module("gateway", "serve", "--config", str(path))

    consumer = await children.launch("consumer", consumer_argv, folder / "consumer.log")
    await wait_for_port(consumer, hl7_ports[-1])
    return BarsChain(receiver, proxy, consumer, hl7_ports[-1])
