"""Serving an ASGI app inside the run's event loop: the HTTP source's endpoint and ``/metrics`` with the probes.

Each server listens on a socket bound before anything else of the run starts (a port already in use is a clear
error, not a log line), is served by uvicorn without its signal handlers (the runner owns SIGINT/SIGTERM), and stops
when the run asks: it finishes the requests in flight, then returns.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import anyio

from streamproc.errors import EndpointError

__all__ = ["listen", "serve_until"]


def listen(host: str, port: int, *, what: str, hint: str = "", backlog: int = 128) -> socket.socket:
    """A bound, listening, non-blocking TCP socket on ``host:port`` (port 0: any free port).

    Args:
        what: what will be served, for the error (``/metrics``, ``the HTTP source``).
        hint: what to do about a taken port, for the error.

    Raises:
        EndpointError: the address cannot be bound (in use, not local, no permission).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening socket
    # says TCP; without it a keep-alive client waits ~40 ms per response (Nagle against delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise EndpointError(
            f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}{f'; {hint}' if hint else ''}"
        ) from exc
    sock.setblocking(False)
    return sock


async def serve_until(app: Any, sock: socket.socket, stop: anyio.Event, *, graceful_seconds: float = 10) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set, then finish the requests in flight (up to
    ``graceful_seconds``) and close the socket."""
    import uvicorn  # ~6 MiB resident with Starlette: only when something is served

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the runner owns SIGINT/SIGTERM (flush, commit, leave the group)

    server = Server(
        uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=graceful_seconds,
        )
    )
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            await stop.wait()
            server.should_exit = True  # uvicorn finishes the requests in flight, then returns
    finally:
        sock.close()
