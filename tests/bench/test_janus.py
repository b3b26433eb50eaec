"""The Janus configuration the benchmark writes (no janus needed), and Janus itself if present."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from tests.bench import janus


def test_render_jcfg_values_and_sections() -> None:
    text = janus.render_jcfg(
        {
            "general": {"name": "x", "on": True, "off": False, "port": 8088, "list": ["a", "b"]},
            "empty": {},
            "room-1": {"nested": {"k": 1}},
        }
    )
    assert text == (
        "general: {\n"
        '\tname = "x"\n'
        "\ton = true\n"
        "\toff = false\n"
        "\tport = 8088\n"
        '\tlist = ["a", "b"]\n'
        "}\n"
        "empty: {\n"
        "}\n"
        "room-1: {\n"
        "\tnested: {\n"
        "\t\tk = 1\n"
        "\t}\n"
        "}\n"
    )


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "a\nb"])
def test_render_jcfg_refuses_strings_it_cannot_quote(bad: str) -> None:
    with pytest.raises(ValueError):
        janus.render_jcfg({"general": {"name": bad}})


def _settings(text: str) -> dict[str, dict[str, str]]:
    """section -> key -> raw value, for the flat files written here."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if match := re.fullmatch(r"([\w-]+): \{", line):
            current = sections.setdefault(match[1], {})
        elif match := re.fullmatch(r"\t(\w+) = (.*)", line):
            current[match[1]] = match[2]
    return sections


@pytest.fixture
def fake_libraries(tmp_path: Path) -> Path:
    """What the Debian package installs, as far as the writer looks at it."""
    root = tmp_path / "usr-lib-janus"
    for kind, names in {
        "plugins": [janus.VIDEOROOM, "libjanus_echotest.so", "libjanus_streaming.so"],
        "transports": [janus.HTTP_TRANSPORT, "libjanus_websockets.so"],
        "events": ["libjanus_sampleevh.so"],
    }.items():
        (root / kind).mkdir(parents=True)
        for name in names:
            (root / kind / name).write_bytes(b"\x7fELF")
    return root


def test_write_config(tmp_path: Path, fake_libraries: Path) -> None:
    config = janus.JanusConfig(
        work_dir=tmp_path / "janus", http_port=18088, rooms=3, ice_address="192.0.2.2"
    )
    core = janus.write_config(config, fake_libraries)
    assert core == config.configs_dir / "janus.jcfg"
    files = {p.name: _settings(p.read_text()) for p in config.configs_dir.iterdir()}
    assert set(files) == {"janus.jcfg", "janus.transport.http.jcfg", "janus.plugin.videoroom.jcfg"}

    main = files["janus.jcfg"]
    assert main["nat"]["ice_enforce_list"] == '"192.0.2.2"'
    assert main["nat"]["full_trickle"] == "false"
    assert main["nat"]["ignore_mdns"] == "true"
    assert main["media"]["ipv6"] == "false"
    text = core.read_text()
    for absent in ("stun_server", "turn_server", "admin_secret", "nat_1_1_mapping"):
        assert absent not in text
    # Only the two libraries the benchmark uses can be loaded.
    folders = {k: Path(main["general"][f"{k}_folder"].strip('"')) for k in ("plugins",)}
    folders["transports"] = Path(main["general"]["transports_folder"].strip('"'))
    folders["events"] = Path(main["general"]["events_folder"].strip('"'))
    assert [p.name for p in folders["plugins"].iterdir()] == [janus.VIDEOROOM]
    assert [p.name for p in folders["transports"].iterdir()] == [janus.HTTP_TRANSPORT]
    assert list(folders["events"].iterdir()) == []
    assert (folders["plugins"] / janus.VIDEOROOM).resolve() == (
        fake_libraries / "plugins" / janus.VIDEOROOM
    )

    http = files["janus.transport.http.jcfg"]
    assert http["general"]["ip"] == '"127.0.0.1"'
    assert http["general"]["port"] == "18088"
    assert http["general"]["https"] == "false"
    assert http["admin"]["admin_http"] == "false"
    assert config.base_url == "http://127.0.0.1:18088/janus"

    rooms = {k: v for k, v in files["janus.plugin.videoroom.jcfg"].items() if k != "general"}
    assert sorted(rooms) == ["room-1000", "room-1001", "room-1002"]
    for room in rooms.values():
        assert room["record"] == "true"
        assert room["rec_dir"] == f'"{config.record_dir}"'
        assert room["videocodec"] == '"vp8"'
        assert room["audiocodec"] == '"opus"'
        assert room["publishers"] == "2"
    assert config.record_dir.is_dir()
    # Written twice (a second N in the same directory): no error, the same links.
    janus.write_config(config, fake_libraries)


def test_write_config_without_recording(tmp_path: Path, fake_libraries: Path) -> None:
    config = janus.JanusConfig(
        work_dir=tmp_path, http_port=1, rooms=1, ice_address="10.0.0.1", record=False
    )
    janus.write_config(config, fake_libraries)
    room = _settings((config.configs_dir / "janus.plugin.videoroom.jcfg").read_text())["room-1000"]
    assert room["record"] == "false"
    assert "rec_dir" not in room


def test_command_uses_only_the_written_configuration(tmp_path: Path) -> None:
    config = janus.JanusConfig(work_dir=tmp_path, http_port=1, rooms=1, ice_address="10.0.0.1")
    if janus.available():
        pytest.skip(f"janus is not installed: {janus.available()}")
    args = janus.command(config, config.configs_dir / "janus.jcfg")
    assert args[1:] == [
        "--config",
        str(config.configs_dir / "janus.jcfg"),
        "--configs-folder",
        str(config.configs_dir),
        "--disable-colors",
    ]


def test_host_address_is_not_loopback() -> None:
    try:
        address = janus.host_address()
    except janus.JanusMissing as exc:
        pytest.skip(str(exc))
    parsed = ipaddress.IPv4Address(address)
    assert not parsed.is_loopback
