"""JSON log lines carry the exception of a failed call and the call's extras."""

from __future__ import annotations

import json
import logging
import sys

from chat_trio.logs import JsonFormatter


def test_a_json_line_carries_the_exception_and_the_extras() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "chat_trio.x", logging.ERROR, __file__, 1, "failed for %s", ("alice",),
            sys.exc_info(),
        )
    record.user = "alice"
    record.session = 7
    record.peer = ("127.0.0.1", 5)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed for alice" and entry["level"] == "error"
    assert (entry["user"], entry["session"], entry["peer"]) == ("alice", 7, "('127.0.0.1', 5)")
    assert "ValueError: boom" in entry["exception"]
    assert entry["exception"].startswith("Traceback")
