"""What the supervisor checks before it starts any worker, each refusal in one line.

- The store must be one every worker shares: an SQLite file (``Store.shared``) or
  PostgreSQL. ``store.path: ":memory:"`` is one process's memory, so N workers
  would be N gateways that cannot see each other's bookings: refused.
- Every listener the workers share needs a fixed port: with port 0 each worker
  would be given a port of its own, and nobody could reach them as one.
- Those ports must be free. Workers bind with SO_REUSEPORT, and Linux lets a
  socket with SO_REUSEPORT join any other of the same user that has it too, so a
  second gateway started by mistake on the port would silently share it with the
  first. The supervisor therefore tries each port first without SO_REUSEPORT
  (bound, never listening, then closed), which fails while anything holds it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from gateway.config import Settings


@dataclass(frozen=True)
class Listener:
    """A port every worker binds: what the configuration calls it, and where."""

    label: str
    host: str
    port: int


def shared_listeners(settings: Settings, host: str, port: int) -> list[Listener]:
    """The gateway's own listeners every worker binds (the adapters' are their own)."""
    found = [Listener("server", host, port)]
    door = settings.hl7_front_door
    if door is not None:
        found.append(Listener("hl7_front_door", door.host, door.port))
    bars = settings.bars
    if bars is not None and bars.tls.enabled:
        found.append(Listener("bars.tls", bars.tls.host, bars.tls.port))
    return found


def refusal(settings: Settings, host: str, port: int, workers: int) -> str | None:
    """Why ``workers`` processes cannot serve this configuration; None when they can."""
    if settings.store.in_memory:
        return (
            f"{workers} workers cannot share store.path ':memory:' (one process's memory): "
            "use a store file or PostgreSQL"
        )
    listeners = shared_listeners(settings, host, port)
    for listener in listeners:
        if listener.port == 0:
            return (
                f"{workers} workers need a fixed {listener.label} port: with port 0 each "
                "would listen on a port of its own"
            )
    for listener in listeners:
        taken = in_use(listener)
        if taken is not None:
            return taken
    return None


def in_use(listener: Listener) -> str | None:
    """Why ``listener``'s port cannot be bound now (in one line); None if it is free."""
    try:
        addresses = socket.getaddrinfo(
            listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror:
        return None  # the workers say what is wrong with the host, as one process does
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return _taken(listener, exc)
    return None


def _taken(listener: Listener, exc: OSError) -> str:
    where = f"port {listener.port} on {listener.host}"
    label = "" if listener.label == "server" else f"{listener.label}: "
    if exc.errno == errno.EADDRINUSE:
        return f"{label}{where} is already in use"
    if exc.errno == errno.EADDRNOTAVAIL:
        address = f"{listener.host}:{listener.port}"
        return f"{label}cannot listen on {address}: the address is not this machine's"
    return f"{label}cannot listen on {where}: {exc.strerror or exc}"
