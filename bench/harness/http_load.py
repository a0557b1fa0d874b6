"""A raw HTTP/1.1 load generator: one asyncio loop, ``connections`` keep-alive connections
(reconnecting whenever the server closes one, as gunicorn's sync workers do after every
answer), requests built before the clock starts. Cheaper per request than any HTTP client
library, so the server, not the generator, is what is measured."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field


def raw_request(method: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The bytes of one request (``Host`` and ``Content-Length`` added)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    connections_opened: int = 0
    retries: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status code, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif status not in (204, 304):
        await reader.read()  # body until the server closes
        close = True
    return status, close


async def _fire(port: int, payloads: list[bytes], connections: int) -> LoadResult:
    queue = list(reversed(payloads))
    result = LoadResult(requests=len(payloads))

    async def client() -> None:
        reader = writer = None
        while queue:
            payload = queue.pop()
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        result.connections_opened += 1
                    started = time.perf_counter()
                    writer.write(payload)
                    status, close = await _read_response(reader)
                    result.latencies.append(time.perf_counter() - started)
                    result.statuses[status] += 1
                    if close:
                        writer.close()
                        writer = None
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    # The server closed an idle keep-alive connection: send again on a new one.
                    if writer is not None:
                        writer.close()
                    writer = None
                    result.retries += 1
                    if attempt == 2:
                        result.statuses["connection error"] += 1
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def fire(port: int, payloads: list[bytes], connections: int) -> LoadResult:
    """Send every payload to 127.0.0.1:``port`` over ``connections`` concurrent connections;
    the rate is requests ÷ wall time from the first request sent to the last answer read."""
    return asyncio.run(_fire(port, payloads, connections))
