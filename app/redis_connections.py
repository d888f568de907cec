"""REDIS_URL turned into the broker's Redis clients: one publisher, and a
factory of subscriber clients (each call is a new client that finds the
server anew, so a subscriber that reconnects after a failover follows it).

Plain ``redis://``, ``rediss://`` and ``unix://`` URLs go to redis-py as they
are. A Sentinel set is named by::

    redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service[/db]
        [?sentinel_password=...]

(``rediss+sentinel://`` for TLS to the sentinels and to the master). The
port defaults to 26379 and ``db`` to 0; the user and password are the
master's, ``sentinel_password`` the sentinels' own (when they require one).
Through redis-py's public Sentinel support every new connection asks the
sentinels for the current master of ``service``. A connection to a master
that died fails, and one to a master the sentinels demoted is dropped when
they announce the switch (+switch-master); the broker's publish re-send and
subscriber reconnect then open connections to the promoted one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("microgrid.broker")

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
"""Sentinel URL scheme -> whether connections use TLS."""
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_OPTIONS = ("sentinel_password",)

PUBLISHER_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 2}
SUBSCRIBER_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "health_check_interval": 5}
SENTINEL_QUERY_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
    # a sentinel that does not answer is skipped for the next one at once
    "retry": Retry(NoBackoff(), 0),
}

SWITCH_MASTER = "+switch-master"
"""The sentinels' announcement of a completed failover."""
WATCH_RETRY_SECONDS = 1.0

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>\d+))?$")


class InvalidRedisUrl(ValueError):
    """REDIS_URL cannot be used; the message names it (without its password)."""


@dataclass(frozen=True)
class SentinelSet:
    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False


@dataclass
class RedisClients:
    publisher: Redis
    new_subscriber: Callable[[], Redis]
    sentinel: Sentinel | None = None
    service_name: str = ""
    _subscriber: Redis | None = field(default=None, init=False)
    _watch: asyncio.Task[None] | None = field(default=None, init=False)

    def subscriber(self) -> Redis:
        """A new client per call (the caller closes it when its connection is
        lost). With Sentinel the first call also starts following the sentinels'
        failover announcements."""
        self._subscriber = self.new_subscriber()
        if self.sentinel is not None and self._watch is None:
            self._watch = asyncio.create_task(
                self._follow_switches(), name="sentinel-watch", context=contextvars.Context()
            )  # not the context of whichever request first subscribed
        return self._subscriber

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.publisher.aclose()
        if self.sentinel is not None:
            await self.sentinel.aclose()

    async def _follow_switches(self) -> None:
        """After a failover a demoted master that is still up keeps its clients
        until a sentinel reconfigures it, which can come many seconds after the
        switch; meanwhile processes that reconnect meet on the new master and
        the others stay on the old one. So on +switch-master for our service
        every connection is dropped: the next publish and the subscriber's
        reconnect ask the sentinels again. Listens to one sentinel at a time,
        moving to the next when it fails."""
        assert self.sentinel is not None
        while True:
            for sentinel in list(self.sentinel.sentinels):
                pubsub = sentinel.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(SWITCH_MASTER)
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and self._is_ours(message["data"]):
                            await self._drop_connections()
                except (RedisError, OSError):
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(WATCH_RETRY_SECONDS)

    def _is_ours(self, data: bytes | str) -> bool:
        """``<service> <old ip> <old port> <new ip> <new port>``."""
        text = data.decode() if isinstance(data, bytes) else data
        return text.split(" ", 1)[0] == self.service_name

    async def _drop_connections(self) -> None:
        log.info("the sentinels switched %s to a new master; reconnecting", self.service_name)
        await self.publisher.connection_pool.disconnect(inuse_connections=True)
        if self._subscriber is not None:
            await self._subscriber.connection_pool.disconnect(inuse_connections=True)


def is_sentinel_url(url: str) -> bool:
    return url.partition("://")[0].lower() in SENTINEL_SCHEMES


def redacted(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        userinfo, _, hosts = authority.rpartition("@")
        user = userinfo.partition(":")[0]
        authority = f"{user}:***@{hosts}" if ":" in userinfo else f"***@{hosts}"
    path = re.sub(r"(password=)[^&]*", r"\1***", path)
    return f"{scheme}{sep}{authority}{slash}{path}"


def _invalid(url: str, why: str) -> InvalidRedisUrl:
    return InvalidRedisUrl(
        f"REDIS_URL {redacted(url)} is not usable: {why}. A Sentinel set is named "
        "redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]"
    )


def parse_sentinel_url(url: str) -> SentinelSet:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        raise _invalid(url, f"the scheme is not one of {', '.join(SENTINEL_SCHEMES)}")
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    userinfo, _, hosts = authority.rpartition("@")
    username = password = None
    if userinfo:  # as in redis:// URLs: [username][:password]
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise _invalid(url, "it names no sentinel host")
    sentinels = tuple(_host_port(url, item) for item in hosts.split(","))
    segments = [unquote(s) for s in path.split("/")] if path else []
    if not segments or not segments[0]:
        raise _invalid(url, "it names no service (the master's name, e.g. /mymaster)")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise _invalid(url, "after the service only a database number may follow")
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - set(SENTINEL_OPTIONS))
    if unknown:
        raise _invalid(
            url,
            f"unknown option(s) {', '.join(unknown)} (accepted: {', '.join(SENTINEL_OPTIONS)})",
        )
    sentinel_password = options.get("sentinel_password", [""])[-1]
    return SentinelSet(
        sentinels=sentinels,
        service_name=segments[0],
        db=int(segments[1]) if len(segments) == 2 else 0,
        username=username,
        password=password,
        sentinel_password=sentinel_password or None,
        tls=SENTINEL_SCHEMES[scheme.lower()],
    )


def _host_port(url: str, item: str) -> tuple[str, int]:
    match = _HOST_PORT.match(item.strip())
    if match is None:
        raise _invalid(url, f"{item!r} is not a host[:port] of a sentinel")
    port = int(match["port"]) if match["port"] else DEFAULT_SENTINEL_PORT
    if not 0 < port < 65536:
        raise _invalid(url, f"port {port} is out of range")
    return match["v6"] or match["host"], port


def redis_clients(url: str) -> RedisClients:
    """The publisher and the subscriber factory for REDIS_URL; a URL that cannot
    work raises :class:`InvalidRedisUrl` here, at start-up."""
    if is_sentinel_url(url):
        return _sentinel_clients(parse_sentinel_url(url))
    try:
        publisher = Redis.from_url(url, **PUBLISHER_OPTIONS)
    except ValueError as error:
        raise _invalid(url, str(error)) from None
    return RedisClients(publisher, lambda: Redis.from_url(url, **SUBSCRIBER_OPTIONS))


def _sentinel_clients(target: SentinelSet) -> RedisClients:
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={
            **SENTINEL_QUERY_OPTIONS,
            "password": target.sentinel_password,
            "ssl": target.tls,
        },
        db=target.db,
        username=target.username,
        password=target.password,
        ssl=target.tls,
    )

    def master(options: dict[str, Any]) -> Redis:
        return sentinel.master_for(target.service_name, **options)

    return RedisClients(
        master(PUBLISHER_OPTIONS), lambda: master(SUBSCRIBER_OPTIONS), sentinel, target.service_name
    )
