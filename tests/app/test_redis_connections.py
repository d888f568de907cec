"""REDIS_URL naming one Redis or a Sentinel set; a bad one stops start-up
with a message that names REDIS_URL and hides its password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.redis_connections import (
    InvalidRedisUrl,
    SentinelSet,
    parse_sentinel_url,
    redis_clients,
)

BIN = Path(sys.executable).parent / "microgrid"


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    parsed = parse_sentinel_url(
        "redis+sentinel://:s3cret@10.0.0.1,10.0.0.2:26380,[::1]:26381/depot-bus/3"
        "?sentinel_password=other"
    )
    assert parsed == SentinelSet(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381)),
        service_name="depot-bus",
        db=3,
        password="s3cret",
        sentinel_password="other",
    )


def test_rediss_sentinel_uses_tls_and_a_user_and_password():
    parsed = parse_sentinel_url("rediss+sentinel://app:p%40ss@sentinel.example/mymaster")
    assert (parsed.username, parsed.password, parsed.tls, parsed.db) == ("app", "p@ss", True, 0)
    assert parsed.sentinels == (("sentinel.example", 26379),)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://:pw@h1,h2", "names no service"),
        ("redis+sentinel://:pw@h1/", "names no service"),
        ("redis+sentinel://:pw@/mymaster", "names no sentinel host"),
        ("redis+sentinel://:pw@h1,,h2/mymaster", "is not a host[:port]"),
        ("redis+sentinel://:pw@h1:port/mymaster", "is not a host[:port]"),
        ("redis+sentinel://:pw@h1:70000/mymaster", "out of range"),
        ("redis+sentinel://:pw@h1/mymaster/zero", "only a database number"),
        ("redis+sentinel://:pw@h1/mymaster/0/x", "only a database number"),
        ("redis+sentinel://:pw@h1/mymaster?sentinel_pasword=x", "unknown option"),
        ("http://:pw@h1/0", "schemes"),
        ("redis://:pw@h1:port/0", "Port"),
    ],
)
def test_a_bad_url_is_refused_naming_redis_url_without_its_password(url, why):
    with pytest.raises(InvalidRedisUrl) as refused:
        redis_clients(url)
    message = str(refused.value)
    assert message.startswith("REDIS_URL ") and why in message
    assert "pw" not in message.replace("password", ""), message


async def test_a_plain_url_gives_plain_clients_and_a_sentinel_url_asks_the_sentinels():
    plain = redis_clients("redis://127.0.0.1:6379/0")
    assert plain.sentinel is None
    await plain.aclose()

    clients = redis_clients("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/4")
    assert clients.sentinel is not None
    subscriber = clients.subscriber()
    assert subscriber is not clients.subscriber(), "a new client per reconnect"
    assert subscriber.get_connection_kwargs()["db"] == 4
    for sentinel in clients.sentinel.sentinels:
        retry = sentinel.get_retry()
        assert retry is not None and retry.get_retries() == 0, (
            "a dead sentinel is skipped at once, not retried with backoff"
        )
    await subscriber.aclose()
    await clients.aclose()


def test_serve_with_a_bad_redis_url_stops_at_start_up_naming_it(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bad-redis.db'}",
        "REDIS_URL": "redis+sentinel://:hunter2@127.0.0.1:26379",
    }
    result = subprocess.run(
        [str(BIN), "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "REDIS_URL redis+sentinel://:***@127.0.0.1:26379 is not usable" in result.stderr
    assert "names no service" in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr
