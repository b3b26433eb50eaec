import json
import logging

import pytest

from signaling.logs import REDACTED, JsonFormatter, new_request_id, request_id_var

pytestmark = pytest.mark.unit


def _format(
    record_extra: dict[str, object], msg: str = "hello %s", args: tuple = ("world",)
) -> dict:
    record = logging.LogRecord("notarylink.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in record_extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_one_json_object_per_line_with_request_id() -> None:
    token = request_id_var.set("req-12345678")
    try:
        entry = _format({"room": "r1"})
    finally:
        request_id_var.reset(token)
    assert entry["msg"] == "hello world"
    assert entry["level"] == "info"
    assert entry["request_id"] == "req-12345678"
    assert entry["room"] == "r1"
    assert entry["ts"].endswith("+00:00")


def test_sensitive_fields_are_redacted_at_any_depth() -> None:
    entry = _format(
        {
            "token": "eyJhbGciOi",
            "password": "hunter2",
            "settings": {"s3_secret_key": "abc", "turn_secret": "t", "port": 8080},
        }
    )
    assert entry["token"] == REDACTED
    assert entry["password"] == REDACTED
    assert entry["settings"] == {"s3_secret_key": REDACTED, "turn_secret": REDACTED, "port": 8080}
    assert "hunter2" not in json.dumps(entry)


def test_request_id_keeps_a_sane_offered_id_and_replaces_junk() -> None:
    assert new_request_id("abcd-1234-ef") == "abcd-1234-ef"
    for junk in (None, "", "short", "x" * 65, "bad id\nwith newline", "<script>"):
        made = new_request_id(junk)
        assert made != junk and len(made) == 32
