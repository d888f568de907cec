"""Log lines as an on-call engineer's tools read them: one JSON object per line
with OpenTelemetry field names whatever a client sent, the trace id, and a
readable text line for `make run`."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from app.log_format import (
    MAX_VALUE_CHARS,
    JsonFormatter,
    LogFields,
    RequestLog,
    TextFormatter,
    configure_logging,
    current_request,
)
from app.settings import Settings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to a JSON stream and a text stream, as configure_logging sets them up."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    as_json, as_text = io.StringIO(), io.StringIO()
    json_handler = configure_logging("json", "DEBUG", db_system="sqlite", stream=as_json)
    root.handlers.remove(json_handler)
    text_handler = configure_logging("text", "DEBUG", db_system="sqlite", stream=as_text)
    root.addHandler(json_handler)
    try:
        yield logging.getLogger("microgrid.test"), as_json, as_text
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for handler in (json_handler, text_handler):
            handler.close()


@pytest.fixture
def unpropagated(logged):
    """The same handlers on a logger outside the hierarchy: pytest's own log
    capture (sent between xdist processes) must not see a lone surrogate."""
    _, as_json, as_text = logged
    hostile = logging.Logger("microgrid.hostile", logging.DEBUG)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter | TextFormatter):
            hostile.addHandler(handler)
    return hostile, as_json, as_text


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_line_has_the_opentelemetry_fields(logged):
    log, as_json, _ = logged
    log.info("depot %s created", "North", extra={"attributes": {"http.request.method": "POST"}})
    (line,) = _lines(as_json)
    assert line["body"] == "depot North created"
    assert line["severity_text"] == "INFO" and line["severity_number"] == 9
    assert line["logger.name"] == "microgrid.test"
    assert line["http.request.method"] == "POST"
    assert str(line["timestamp"]).endswith("Z") and "T" in str(line["timestamp"])
    assert "trace_id" not in line and "request.id" not in line, "outside a request and a trace"


def test_hostile_values_stay_one_json_line_and_say_they_were_cut(unpropagated):
    log, as_json, as_text = unpropagated
    hostile = 'a\nb\r\x00\x1b[31m\u2028\u2029\x85\ud800"}{' + "x" * 100_000
    log.warning(hostile, extra={"attributes": {"user_agent.original": hostile, "url.path": "/\n"}})
    (line,) = _lines(as_json)
    assert len(as_json.getvalue().splitlines()) == 1
    assert str(line["body"]).startswith("a\nb\r\x00\x1b[31m")
    agent = str(line["user_agent.original"])
    assert len(agent) == MAX_VALUE_CHARS + 1 and agent.endswith("…")
    assert line["log.truncated"] == ["body", "user_agent.original"]
    assert line["url.path"] == "/\n"
    (text_line,) = as_text.getvalue().splitlines()
    assert text_line.count("WARNING") == 1 and "\\n" in text_line


def test_an_exception_has_its_type_message_and_stack_trace(logged):
    log, as_json, as_text = logged
    try:
        raise ValueError("the depot page broke")
    except ValueError:
        log.exception("unexpected error")
    (line,) = _lines(as_json)
    assert line["exception.type"] == "ValueError"
    assert line["exception.message"] == "the depot page broke"
    assert "Traceback" in str(line["exception.stacktrace"])
    assert 'raise ValueError("the depot page broke")' in str(line["exception.stacktrace"])
    text = as_text.getvalue()
    assert text.splitlines()[0].endswith("unexpected error")
    assert "Traceback" in text, "the text format shows the stack trace below the line"


def test_the_trace_id_comes_from_the_current_span(logged):
    log, as_json, _ = logged
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        token = current_request.set(RequestLog("req-1", traceparent=TRACEPARENT))
        try:
            log.info("inside")
        finally:
            current_request.reset(token)
    (line,) = _lines(as_json)
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["request.id"] == "req-1"


@pytest.mark.parametrize(
    ("traceparent", "trace_id"),
    [
        (TRACEPARENT, "0af7651916cd43dd8448eb211c80319c"),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", None),
        ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", None),
        ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", None),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", None),
        ("\n" + "0" * 10_000, None),
        ("garbage", None),
    ],
)
def test_without_a_span_the_trace_id_comes_from_a_well_formed_traceparent(
    logged, traceparent, trace_id
):
    log, as_json, _ = logged
    token = current_request.set(RequestLog("req-2", traceparent=traceparent))
    try:
        log.info("inside")
    finally:
        current_request.reset(token)
    (line,) = _lines(as_json)
    assert line.get("trace_id") == trace_id
    if trace_id:
        assert line["span_id"] == "b7ad6b7169203331"


def test_lines_about_the_database_name_its_system(logged):
    _, as_json, _ = logged
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("microgrid.test").info("not about it")
    logging.getLogger("microgrid.test").info("about it", extra={"about_database": True})
    lines = _lines(as_json)
    assert [line.get("db.system") for line in lines] == ["sqlite", None, "sqlite"]


def test_a_storage_error_is_about_the_database():
    fields = LogFields("postgresql", lambda error: isinstance(error, ConnectionRefusedError))
    try:
        try:
            raise ConnectionRefusedError("no database")
        except ConnectionRefusedError as refused:
            raise RuntimeError("the page failed") from refused
    except RuntimeError as error:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "m", (), (RuntimeError, error, None))
    assert fields.of(record, "t")["db.system"] == "postgresql"


def test_uvicorn_lines_go_through_the_same_format_without_its_websocket_access_lines(logged):
    _, as_json, _ = logged
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.info("Started server process [%d]", 1)
    uvicorn_error.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:1", "/graphql?token=secret")
    uvicorn_error.info("connection open")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "c", "GET", "/", "1.1", 200)
    lines = _lines(as_json)
    assert [(line["logger.name"], line["body"]) for line in lines] == [
        ("uvicorn.error", "Started server process [1]")
    ]


def test_python_warnings_are_lines_of_the_same_format(logged):
    _, as_json, _ = logged
    warnings.warn("an old call", DeprecationWarning, stacklevel=1)
    (line,) = _lines(as_json)
    assert line["logger.name"] == "py.warnings" and "an old call" in str(line["body"])


def test_log_settings_take_any_case_and_refuse_others():
    assert Settings().log_format == "json" and Settings().log_level == "INFO"
    settings = Settings(log_format=" TEXT", log_level="debug")
    assert (settings.log_format, settings.log_level) == ("text", "DEBUG")
    for wrong in ({"log_format": "xml"}, {"log_level": "LOUD"}):
        with pytest.raises(ValidationError):
            Settings(**wrong)
