"""Listening sockets for the process's HTTP servers (the HTTP source, /metrics and the probes)."""

from __future__ import annotations

import socket

__all__ = ["listen"]


def listen(host: str, port: int, *, backlog: int = 128) -> socket.socket:
    """A bound, listening, non-blocking TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        OSError: the address cannot be bound (in use, not local, no permission).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening socket
    # says TCP; without it a keep-alive client waits ~40 ms per response (Nagle against delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
