"""Live tag changes for any number of browsers: one Redis subscription per process, fanned out to bounded queues.

``StreamState.record_tag`` and ``StreamState.end`` publish a small JSON message on ``<prefix>:tags``
(``Keys.tags_channel``). The :class:`TagHub` subscribes once (redis-py asyncio pub/sub), adds what a page shows
(the product's title, price and image, cached for a while) and hands each message to every client that wants
it. Each client has a queue of ``sse_queue`` events: a client that does not read fast enough is dropped (it is
sent an ``overflow`` event and its stream ends; browsers' EventSource reconnects and starts from a fresh
snapshot), never buffered without bound. Nothing is lost by a drop: "now" and the tag history stay in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("ampere.api.live")

OVERFLOW = object()  # queue sentinel: this client fell behind


@dataclass(eq=False)
class Client:
    stream_id: str | None  # None: every stream
    queue: asyncio.Queue
    dropped: bool = False
    connected_at: float = field(default_factory=time.time)

    def wants(self, event: dict) -> bool:
        return self.stream_id is None or event.get("stream_id") == self.stream_id


class TagHub:
    """``subscribe``: an async function (channel) -> async iterator of message payloads (bytes; None once
    subscribed and whenever the feed is quiet), reconnecting is the hub's job; ``enrich``: an async function
    (event) -> event, run once per message (not per client); ``on_event``: called with every event."""

    def __init__(
        self,
        subscribe: Callable[[str], AsyncIterator[bytes | None]],
        channel: str,
        enrich: Callable[[dict], Awaitable[dict]] | None = None,
        queue_size: int = 256,
        max_clients: int = 1000,
        on_drop: Callable[[], None] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ):
        self._subscribe, self.channel, self._enrich = subscribe, channel, enrich
        self.queue_size, self.max_clients = int(queue_size), int(max_clients)
        self.clients: set[Client] = set()
        self.connected = False
        self.events = 0
        self.dropped = 0
        self._on_drop = on_drop
        self._on_event = on_event  # every event, clients or not (cache invalidation)
        self._task: asyncio.Task | None = None

    # -- lifetime

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ampere-tag-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for c in list(self.clients):
            self._drop(c)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async for payload in self._subscribe(self.channel):
                    self.connected, backoff = True, 0.5
                    if payload is not None:  # None: subscribed (or a quiet moment)
                        await self.publish_raw(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: retry; clients keep their streams (and keep-alives)
                log.warning("tag feed subscription lost (%s: %s); retrying in %.1f s", type(exc).__name__, exc, backoff)
            self.connected = False
            if self._on_event is not None:
                self._on_event({"type": "lost"})  # events may have been missed meanwhile
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    # -- clients

    def add(self, stream_id: str | None = None) -> Client:
        if len(self.clients) >= self.max_clients:
            raise OverflowError(f"live feed is at its limit of {self.max_clients} clients")
        c = Client(stream_id, asyncio.Queue(maxsize=self.queue_size))
        self.clients.add(c)
        return c

    def remove(self, client: Client) -> None:
        self.clients.discard(client)

    def _drop(self, client: Client) -> None:
        """Empty the client's queue and leave only the overflow marker: its stream ends after that."""
        client.dropped = True
        self.clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(OVERFLOW)

    # -- events

    async def publish_raw(self, payload: bytes | str) -> None:
        try:
            event = json.loads(payload)
        except (TypeError, ValueError):
            return
        if not isinstance(event, dict) or "stream_id" not in event:
            return
        await self.publish(event)

    async def publish(self, event: dict) -> None:
        self.events += 1
        if self._on_event is not None:
            self._on_event(event)
        if self._enrich is not None and any(c.wants(event) for c in self.clients):
            try:
                event = await self._enrich(event)
            except Exception:  # a lookup failed: send what we have
                log.debug("enriching a tag event failed", exc_info=True)
        for c in list(self.clients):
            if not c.wants(event):
                continue
            try:
                c.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                if self._on_drop is not None:
                    self._on_drop()
                self._drop(c)


def sse(event: str, data: Any, event_id: str | None = None) -> str:
    """One server-sent event."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    body = json.dumps(data, separators=(",", ":"), default=str)
    lines.extend(f"data: {line}" for line in body.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


async def event_stream(
    hub: TagHub, client: Client, snapshot: Callable[[], Awaitable[Any]], keepalive_s: float = 15.0
) -> AsyncIterator[str]:
    """The text/event-stream body of one client: a retry hint, a ``snapshot`` (the state now), then a ``tag`` or
    ``end`` event per change, with a comment line as keep-alive when nothing happens (proxies close idle
    connections). Ends with an ``overflow`` event when the client falls behind."""
    try:
        yield "retry: 2000\n\n"
        yield sse("snapshot", await snapshot())
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), timeout=keepalive_s)
            except TimeoutError:
                yield f": keep-alive {int(time.time())}\n\n"
                continue
            if item is OVERFLOW:
                yield sse("overflow", {"detail": "this client fell behind; reconnect for a fresh snapshot"})
                return
            kind = "end" if item.get("type") == "end" else "tag"
            yield sse(kind, item, event_id=f"{item.get('stream_id')}:{item.get('ts')}")
    finally:
        hub.remove(client)


def redis_subscriber(redis_url: str) -> Callable[[str], AsyncIterator[bytes | None]]:
    """Payloads published on a channel, over redis-py's asyncio pub/sub (one connection)."""

    async def subscribe(channel: str) -> AsyncIterator[bytes | None]:
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(redis_url, decode_responses=False, health_check_interval=30)
        ps = r.pubsub(ignore_subscribe_messages=True)
        try:
            await ps.subscribe(channel)
            yield None  # subscribed
            while True:
                msg = await ps.get_message(timeout=5.0)
                if msg is None:
                    await r.ping()  # notices a dead connection while the feed is quiet
                    yield None
                    continue
                if msg.get("type") == "message":
                    yield msg["data"]
        finally:
            with contextlib.suppress(Exception):
                await ps.aclose()
            with contextlib.suppress(Exception):
                await r.aclose()

    return subscribe
