"""A raw HTTP client for the hostile-clients benchmark that counts instead of
keeping: one request per fresh connection, read to EOF, only the head kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
KEEP = 64 * 1024


@dataclass
class Answer:
    status: int | None
    size: int
    head: bytes
    error: str | None = None

    def outcome(self) -> str:
        """`200`, `200 QUERY_TOO_DEEP`, `413`, `timeout`, ... for the tallies."""
        if self.status is None:
            return self.error or "no answer"
        body = self.head.split(b"\r\n\r\n", 1)[-1]
        with contextlib.suppress(ValueError, AttributeError, KeyError, IndexError, TypeError):
            errors = json.loads(body).get("errors")
            if errors:
                return f"{self.status} {errors[0].get('extensions', {}).get('code', 'error')}"
        return str(self.status)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


def post(body: bytes, token: str | None = None, content_length: int | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    length = len(body) if content_length is None else content_length
    return (
        f"POST /graphql HTTP/1.1\r\nHost: {HOST}\r\n{auth}Connection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + body


async def http(port: int, request: bytes, within: float) -> Answer:
    """Send one request on a fresh connection and read to EOF, keeping the first
    64 KiB; a reset while sending still reads what the server answered."""
    head, size = b"", 0
    writer = None
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
            writer.write(request)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            while chunk := await reader.read(1 << 20):
                if len(head) < KEEP:
                    head += chunk[: KEEP - len(head)]
                size += len(chunk)
    except TimeoutError:
        return Answer(status_of(head), size, head, "timeout")
    except OSError as exc:
        return Answer(status_of(head), size, head, type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()
    return Answer(status_of(head), size, head, None if head else "closed")


def status_of(head: bytes) -> int | None:
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


async def graphql(port: int, token: str, query: str, variables: dict[str, Any]) -> Any:
    answer = await http(
        port, post(json.dumps({"query": query, "variables": variables}).encode(), token), 60
    )
    return json.loads(answer.head.split(b"\r\n\r\n", 1)[1])
