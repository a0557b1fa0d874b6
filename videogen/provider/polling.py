"""Many polls at once on one event loop: the sweep's transport for ``GET /videos/{id}``.

A sweep keeps up to ``POLL_CONCURRENCY`` polls in flight. On blocking ``requests`` that is a
thread per poll, and at 128 threads their hand-offs of the GIL cost more CPU than the HTTP
itself (about 1 ms per poll, against 0.6 ms on one thread): the sweep's process ran out of
CPU before the network was busy. Here the polls are coroutines on one event loop, with
aiohttp's C parser: about 0.4 ms of CPU per poll at the same concurrency.

The loop runs in one daemon thread per process, started on first use (a forked process
starts its own). Each client has its own aiohttp session on it, made the way the blocking
client is: same URL, headers, proxy (resolved once from the environment), CA bundle, client
certificate, timeouts and no cookies; and each answer becomes the same
``VideoJobSnapshot`` or ``ProviderError`` (``error_for_answer``, ``snapshot_of_answer``).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import requests

from videogen.provider.errors import ProviderConnectionError, ProviderTimeout
from videogen.provider.types import VideoJobSnapshot

if TYPE_CHECKING:
    from videogen.provider.client import OpenRouterVideoClient

Item = TypeVar("Item")
# What a poll ends in: the job's snapshot, a ProviderError, or (a bug) any other exception.
Outcome = VideoJobSnapshot | BaseException

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_loop_lock = threading.Lock()
# Headers the blocking session carries that aiohttp sets for itself (it advertises only the
# encodings it can decode, and keeps connections alive on its own).
_OWN_HEADERS = {"accept-encoding", "connection", "content-length", "host"}


def event_loop() -> asyncio.AbstractEventLoop:
    """The process's polling loop, running in its own daemon thread."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="videogen-poll-loop", daemon=True).start()
            ready.wait()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


class PollRun:
    """Polls under way.

    ``add()`` gives the run more to poll (until ``close()``, when it was started with
    ``more_to_come``); ``cancel()`` stops it: none starts after it, those in flight end.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, todo: asyncio.Queue, workers: int, future: Future
    ) -> None:
        self._loop, self._todo, self._workers, self._future = loop, todo, workers, future

    def add(self, items: Sequence[tuple[Item, str]]) -> None:
        self._loop.call_soon_threadsafe(_put_all, self._todo, list(items))

    def close(self) -> None:
        """Nothing more is coming: the run ends once what it has is polled."""
        self._loop.call_soon_threadsafe(_put_all, self._todo, [_END] * self._workers)

    def cancel(self) -> None:
        self._future.cancel()

    def done(self) -> bool:
        """True once the run has ended: all it was given is polled (and it was closed), or
        it was cancelled or broke."""
        return self._future.done()

    def failure(self) -> BaseException | None:
        """What ended the run itself, if anything did (never a poll's own error)."""
        if self._future.done() and not self._future.cancelled():
            return self._future.exception()
        return None


# What tells a worker of the run that nothing more is coming.
_END: Any = object()


def _put_all(todo: asyncio.Queue, items: list) -> None:
    for item in items:
        todo.put_nowait(item)


class VideoPoller:
    """``GET /videos/{id}`` for many jobs at once, for one client."""

    def __init__(self, client: OpenRouterVideoClient) -> None:
        self._client = client
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def poll(
        self,
        items: Sequence[tuple[Item, str]],
        *,
        concurrency: int,
        answer: Callable[[Item, Outcome], None],
        more_to_come: bool = False,
    ) -> PollRun:
        """Poll each ``(item, provider job id)``, at most ``concurrency`` at a time, and call
        ``answer(item, outcome)`` for each, from the loop's thread, as answers come. With
        ``more_to_come`` the run takes more items (``PollRun.add``) until ``PollRun.close``."""
        loop = event_loop()
        items = list(items)
        workers = max(1, concurrency if more_to_come else min(concurrency, len(items)))
        # Filled here, before the loop can see it (no worker waits on it yet); from now on
        # only in the loop's thread (``PollRun.add``).
        todo: asyncio.Queue = asyncio.Queue()
        _put_all(todo, items if more_to_come else [*items, *[_END] * workers])
        future = asyncio.run_coroutine_threadsafe(self._poll_all(todo, workers, answer), loop)
        return PollRun(loop, todo, workers, future)

    def close(self) -> None:
        session, loop = self._session, self._session_loop
        self._session = self._session_loop = None
        if session is not None and loop is not None and loop.is_running():
            closing = asyncio.run_coroutine_threadsafe(session.close(), loop)
            try:
                closing.result(timeout=5)
            except Exception:  # closing is best effort: the loop may be busy or gone
                closing.cancel()

    # --- in the loop -----------------------------------------------------------------------

    async def _poll_all(
        self,
        todo: asyncio.Queue,
        workers: int,
        answer: Callable[[Item, Outcome], None],
    ) -> None:
        session = self._session_here()

        async def worker() -> None:
            while (taken := await todo.get()) is not _END:
                item, job_id = taken
                try:
                    outcome: Outcome = await self._get_video(session, job_id)
                except asyncio.CancelledError:
                    raise
                except BaseException as err:  # a ProviderError, or a bug for the caller
                    outcome = err
                answer(item, outcome)

        await asyncio.gather(*(worker() for _ in range(workers)))

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop:
            self._session = _session_like(self._client)
            self._session_loop = loop
        return self._session

    async def _get_video(self, session: aiohttp.ClientSession, job_id: str) -> VideoJobSnapshot:
        from videogen.provider.client import error_for_answer, snapshot_of_answer

        client = self._client
        path = f"/videos/{client._segment(job_id)}"
        what = f"GET {path}"
        url = client.url(path)
        try:
            async with session.get(url, proxy=_proxy_for(client, url)) as response:
                body = await response.read()
                status, reason = response.status, response.reason
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise ProviderTimeout(f"{what} timed out: {err!r}") from err
        except aiohttp.ClientConnectorError as err:
            raise ProviderConnectionError(
                f"{what} could not connect: {err}", may_have_been_processed=False
            ) from err
        except aiohttp.ClientError as err:
            raise ProviderConnectionError(
                f"{what}: the connection was lost; the request may have reached the "
                f"provider: {err!r}"
            ) from err
        if 200 <= status < 300:
            return snapshot_of_answer(f"GET {url}", status, body)
        raise error_for_answer(status, reason, retry_after, body.decode(errors="replace"))


def _proxy_for(client: OpenRouterVideoClient, url: str) -> str | None:
    return requests.utils.select_proxy(url, client.session.proxies) or None


def _ssl_context(session: requests.Session) -> ssl.SSLContext | bool:
    """The blocking session's TLS settings: its CA bundle (``requests``' own by default) or
    none at all, and its client certificate."""
    verify, cert = session.verify, session.cert
    if verify is False:
        return False
    if isinstance(verify, str) and os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        bundle = verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
        context = ssl.create_default_context(cafile=bundle)
    if cert:
        certfile, keyfile = cert if isinstance(cert, tuple) else (cert, None)
        context.load_cert_chain(certfile, keyfile)
    return context


def _session_like(client: OpenRouterVideoClient) -> aiohttp.ClientSession:
    connect, read = client.timeout
    headers: dict[str, Any] = {
        name: value
        for name, value in client.session.headers.items()
        if name.lower() not in _OWN_HEADERS
    }
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=client.pool_size,
            limit_per_host=client.pool_size,
            ssl=_ssl_context(client.session),
        ),
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # the environment was read once, by the blocking client
    )
