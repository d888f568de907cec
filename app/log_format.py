"""Log lines: one JSON object per line with OpenTelemetry semantic-convention
names (``LOG_FORMAT=json``, the default) or a readable line (``text``, what
``make run`` uses), for the service's loggers and uvicorn's alike.

A JSON line always carries ``timestamp`` (RFC 3339, UTC), ``severity_text``,
``severity_number``, ``body`` and ``logger.name``; ``trace_id``/``span_id``
when there is a trace (the current OpenTelemetry span, else the request's
``traceparent``); ``request.id`` inside a request; a record's ``attributes``
(``extra={"attributes": {...}}``) as top-level keys; ``exception.type``,
``exception.message`` and ``exception.stacktrace`` when it carries one; and
``db.system`` when it is about the database. Whatever a client sent stays on
one line (control characters are escaped) and is cut to a bounded length;
``log.truncated`` names the fields that were cut."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

LogFormat = Literal["json", "text"]

MAX_VALUE_CHARS = 1024
"""Longest attribute value written (a user agent, a path, an operation name)."""
MAX_BODY_CHARS = 8192
"""Longest message body written."""
MAX_STACKTRACE_CHARS = 32_768
"""Longest stack trace written (its end, where the exception is, is kept)."""

SEVERITY_NUMBERS = {
    logging.DEBUG: 5,
    logging.INFO: 9,
    logging.WARNING: 13,
    logging.ERROR: 17,
    logging.CRITICAL: 21,
}
"""OpenTelemetry's severity numbers of the standard levels (the log data model)."""

DATABASE_LOGGERS = (
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "persistence",
    "microgrid.retention",
)
"""Loggers whose lines are about the database (they get ``db.system``)."""

ABOUT_DATABASE = "about_database"
"""A record attribute (``extra={ABOUT_DATABASE: True}``) marking a line that
is about the database although its logger is not one of ``DATABASE_LOGGERS``."""


@dataclass(slots=True)
class RequestLog:
    """What the lines logged while serving one request (or WebSocket
    connection) say about it; the access log fills it, the GraphQL view adds
    the operation."""

    request_id: str
    traceparent: str | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    folds_errors: bool = False
    """Whether a client-error line (one with an ``error.type`` attribute) is
    said by the request's access line instead of a line of its own."""
    error_type: str | None = None
    error_message: str | None = None
    _incoming: tuple[str, str] | None = field(default=None, repr=False)

    def incoming_trace(self) -> tuple[str, str] | None:
        """The trace and parent span ids of a well-formed ``traceparent``."""
        if self.traceparent is None:
            return None
        if self._incoming is None:
            self._incoming = _parse_traceparent(self.traceparent) or ("", "")
        return self._incoming if self._incoming[0] else None


current_request: ContextVar[RequestLog | None] = ContextVar("current_request", default=None)
"""The request the current task serves (tasks it starts inherit it)."""

_PROPAGATOR = TraceContextTextMapPropagator()


def _parse_traceparent(value: str) -> tuple[str, str] | None:
    if len(value) > 512:
        return None
    context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": value}))
    span = context.get_span_context()
    if not span.is_valid:
        return None
    return trace.format_trace_id(span.trace_id), trace.format_span_id(span.span_id)


def trace_ids() -> tuple[str, str] | None:
    """The (trace id, span id) a line logged now belongs to, in hex."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        return trace.format_trace_id(span.trace_id), trace.format_span_id(span.span_id)
    request = current_request.get()
    return request.incoming_trace() if request is not None else None


def _clip(value: str, limit: int, name: str, truncated: list[str], keep_end: bool = False) -> str:
    if len(value) <= limit:
        return value
    truncated.append(name)
    return "…" + value[-limit:] if keep_end else value[:limit] + "…"


class FoldedIntoAccessLine(logging.Filter):
    """A request's client-error line becomes part of its access line (one
    line per request), when the request has one."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        if request is None or not request.folds_errors:
            return True
        attributes = getattr(record, "attributes", None)
        if not isinstance(attributes, dict) or "error.type" not in attributes:
            return True
        if request.error_type is None:
            request.error_type = str(attributes["error.type"])
            request.error_message = record.getMessage()
        return False


class LogFields:
    """The fields of a record, bounded, in the order a line shows them."""

    def __init__(self, db_system: str | None, is_storage_error: Callable[[BaseException], bool]):
        self.db_system = db_system
        self.is_storage_error = is_storage_error

    def of(self, record: logging.LogRecord, timestamp: str) -> dict[str, Any]:
        truncated: list[str] = []
        fields: dict[str, Any] = {
            "timestamp": timestamp,
            "severity_text": record.levelname,
            "severity_number": SEVERITY_NUMBERS.get(record.levelno, 9),
            "body": _clip(record.getMessage(), MAX_BODY_CHARS, "body", truncated),
            "logger.name": record.name,
        }
        ids = trace_ids()
        if ids is not None:
            fields["trace_id"], fields["span_id"] = ids
        request = current_request.get()
        if request is not None:
            fields["request.id"] = request.request_id
        attributes = getattr(record, "attributes", None)
        if isinstance(attributes, dict):
            for key, value in attributes.items():  # names come from the code, values may not
                if value is None or key in fields:
                    continue
                if type(value) is str:
                    if len(value) > MAX_VALUE_CHARS:
                        value = _clip(value, MAX_VALUE_CHARS, key, truncated)
                elif not isinstance(value, bool | int | float):
                    value = _clip(str(value), MAX_VALUE_CHARS, key, truncated)
                fields[key] = value
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            fields["exception.type"] = _qualified_name(type(error))
            fields["exception.message"] = _clip(
                str(error), MAX_VALUE_CHARS, "exception.message", truncated
            )
            stack = record.exc_text or "".join(traceback.format_exception(error)).rstrip("\n")
            fields["exception.stacktrace"] = _clip(
                stack, MAX_STACKTRACE_CHARS, "exception.stacktrace", truncated, keep_end=True
            )
        if self.db_system and "db.system" not in fields and self._about_database(record, error):
            fields["db.system"] = self.db_system
        if truncated:
            fields["log.truncated"] = truncated
        return fields

    def _about_database(self, record: logging.LogRecord, error: BaseException | None) -> bool:
        if record.name.startswith(DATABASE_LOGGERS) or getattr(record, ABOUT_DATABASE, False):
            return True
        while error is not None:
            if self.is_storage_error(error):
                return True
            error = error.__cause__ or error.__context__
        return False


def _qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


class _Timestamps:
    """RFC 3339 UTC with microseconds; the date and time of the last whole
    second are kept, as most lines fall in the same second as the one before."""

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def of(self, record: logging.LogRecord) -> str:
        created = record.created
        second = int(created)
        if second != self.second:
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return f"{self.prefix}.{int((created - second) * 1e6):06d}Z"


_timestamp = _Timestamps().of


def json_line(fields: dict[str, Any]) -> str:
    """``fields`` as one line of JSON, whatever characters its values hold."""
    try:
        encoded = orjson.dumps(fields)
    except TypeError:  # a lone surrogate: the standard library escapes it
        return json.dumps(fields, ensure_ascii=True, default=str)
    # U+2028, U+2029 and NEL are valid inside JSON strings, but line breaks to some readers.
    if b"\xe2\x80\xa8" in encoded or b"\xe2\x80\xa9" in encoded or b"\xc2\x85" in encoded:
        return json.dumps(fields, ensure_ascii=True, default=str)
    return encoded.decode()


class JsonFormatter(logging.Formatter):
    def __init__(self, fields: LogFields) -> None:
        super().__init__()
        self.fields = fields

    def format(self, record: logging.LogRecord) -> str:
        return json_line(self.fields.of(record, _timestamp(record)))


_TEXT_SHOWN_FIRST = ("timestamp", "severity_text", "severity_number", "logger.name", "body")


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> <body> key=value …``, then the stack trace on
    its own lines; client-sent characters that would break the line are escaped."""

    def __init__(self, fields: LogFields) -> None:
        super().__init__()
        self.fields = fields

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields.of(record, _timestamp(record))
        stack = fields.pop("exception.stacktrace", None)
        fields.pop("exception.message", None)
        fields.pop("exception.type", None)
        extra = " ".join(
            f"{key}={_one_line(str(value))}"
            for key, value in fields.items()
            if key not in _TEXT_SHOWN_FIRST
        )
        line = (
            f"{fields['timestamp']} {fields['severity_text']:<7} {fields['logger.name']}: "
            f"{_one_line(fields['body'])}"
        )
        if extra:
            line = f"{line}  [{extra}]"
        return f"{line}\n{stack}" if stack else line


def _one_line(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_HANDLER_NAME = "microgrid"

UVICORN_WEBSOCKET_LINES = frozenset(
    {
        '%s - "WebSocket %s" [accepted]',
        '%s - "WebSocket %s" 403',
        '%s - "WebSocket %s" %d',
        "connection open",
        "connection closed",
    }
)
"""The access lines uvicorn (and the websockets library under its logger)
writes for every WebSocket on ``uvicorn.error``, with the query string: the
service's access log says the same without it."""


class WithoutUvicornWebSocketLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg in UVICORN_WEBSOCKET_LINES)


def configure_logging(
    log_format: LogFormat,
    level: str,
    db_system: str | None = None,
    is_storage_error: Callable[[BaseException], bool] = lambda _error: False,
    stream: Any = None,
) -> logging.Handler:
    """One handler on the root logger with the chosen format; uvicorn's
    loggers and Python's warnings hand their records to it (uvicorn's own
    handlers removed, its access lines off)."""
    fields = LogFields(db_system, is_storage_error)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(fields) if log_format == "json" else TextFormatter(fields))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, WithoutUvicornWebSocketLines) for f in errors.filters):
        errors.addFilter(WithoutUvicornWebSocketLines())
    logging.captureWarnings(True)  # Python's warnings become lines of the same format
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False  # the service writes its own access log
    return handler
