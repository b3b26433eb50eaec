from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.keys import SigningKeyError, load_private_key
from signaling.settings import (
    DEV_S3_ACCESS_KEY,
    VARIABLES,
    Secret,
    SettingsError,
    env_name,
    load_settings,
    mask_url_password,
    prepare_secrets,
)
from tests.support import REPO

pytestmark = pytest.mark.unit

PRODUCTION = {
    "NOTARYLINK_ENVIRONMENT": "production",
    "NOTARYLINK_TOKEN_SECRET": "x" * 40,
    "NOTARYLINK_SIGNING_KEY_PATH": "/run/secrets/platform-ed25519.pem",
    "NOTARYLINK_S3_ACCESS_KEY": "prod-access",
    "NOTARYLINK_S3_SECRET_KEY": "prod-secret-key",
    "NOTARYLINK_DATABASE_URL": "postgresql+asyncpg://notarylink@db/notarylink",
}


def test_defaults_serve_make_run() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.environment == "development"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("var/notarylink.db")
    assert [c.spec for c in settings.retention_classes] == [
        "short=20y",
        "long=60y",
        "permanent=hold",
    ]


def test_values_are_parsed_into_types() -> None:
    settings = load_settings(
        {
            "NOTARYLINK_PORT": "9000",
            "NOTARYLINK_STUN_URLS": "stun:stun.example.org:3478, stun:b.example.org",
            "NOTARYLINK_TURN_URLS": (
                "turn:t.example.org:3478?transport=udp,turns:t.example.org:443?transport=tcp"
            ),
            "NOTARYLINK_RETENTION_CLASSES": "short=10y,permanent=hold",
            "NOTARYLINK_DATA_DIR": "/srv/notarylink",
            "NOTARYLINK_FACE_MATCH_THRESHOLD": "0.52",
        },
        dotenv=None,
    )
    assert settings.port == 9000
    assert settings.face_match_threshold == 0.52
    assert settings.stun_urls == ("stun:stun.example.org:3478", "stun:b.example.org")
    assert len(settings.turn_urls) == 2
    assert [c.name for c in settings.retention_classes] == ["short", "permanent"]
    assert settings.data_dir == Path("/srv/notarylink")


@pytest.mark.parametrize(
    "variable, value",
    [
        ("NOTARYLINK_PORT", "eighty"),
        ("NOTARYLINK_PORT", "70000"),
        ("NOTARYLINK_ENVIRONMENT", "staging"),
        ("NOTARYLINK_S3_ENDPOINT", "minio:9000"),
        ("NOTARYLINK_PUBLIC_BASE_URL", "example.org"),
        ("NOTARYLINK_DATABASE_URL", "mysql://root@localhost/test"),
        ("NOTARYLINK_REDIS_URL", "http://localhost:6379"),
        ("NOTARYLINK_EVIDENCE_BUCKET", "Evidence_Bucket"),
        ("NOTARYLINK_RETENTION_CLASSES", "short=twenty"),
        ("NOTARYLINK_STUN_URLS", "turn:wrong.example"),
        ("NOTARYLINK_TURN_URLS", "stun:wrong.example"),
        ("NOTARYLINK_LOG_LEVEL", "chatty"),
        ("NOTARYLINK_S3_SECRET_KEY", ""),
        ("NOTARYLINK_TSA_URL", "tsa.example"),
        ("NOTARYLINK_FACE_MATCH_THRESHOLD", "high"),
        ("NOTARYLINK_FACE_MATCH_THRESHOLD", "0.9"),
        ("NOTARYLINK_FACE_ENCODER_PROCESSES", "3"),
        ("NOTARYLINK_FACE_ENCODER_PROCESSES", "-1"),
        ("NOTARYLINK_EVENT_LOOP", "trio"),
    ],
)
def test_invalid_value_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        load_settings({variable: value}, dotenv=None)


def test_unknown_variable_is_refused_so_typos_surface() -> None:
    with pytest.raises(SettingsError, match="NOTARYLINK_TOKEN_SECRETT"):
        load_settings({"NOTARYLINK_TOKEN_SECRETT": "x"}, dotenv=None)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nNOTARYLINK_PORT=9100\nexport NOTARYLINK_HOST='0.0.0.0'\n"
        "\nNOTARYLINK_LOG_LEVEL=debug\n"
    )
    settings = load_settings({"NOTARYLINK_PORT": "9200"}, dotenv=dotenv)
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9200, "DEBUG")


def test_dotenv_syntax_error_names_the_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("NOTARYLINK_PORT=1\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:2"):
        load_settings({}, dotenv=dotenv)


def test_production_accepts_explicit_secrets() -> None:
    settings = load_settings(PRODUCTION, dotenv=None)
    assert settings.production


@pytest.mark.parametrize(
    "override, variable",
    [
        ({"NOTARYLINK_TOKEN_SECRET": ""}, "NOTARYLINK_TOKEN_SECRET"),
        ({"NOTARYLINK_TOKEN_SECRET": "short"}, "NOTARYLINK_TOKEN_SECRET"),
        ({"NOTARYLINK_SIGNING_KEY_PATH": ""}, "NOTARYLINK_SIGNING_KEY_PATH"),
        ({"NOTARYLINK_S3_ACCESS_KEY": DEV_S3_ACCESS_KEY}, "NOTARYLINK_S3_ACCESS_KEY"),
        ({"NOTARYLINK_S3_SECRET_KEY": "notarylink-dev-secret-key"}, "NOTARYLINK_S3_SECRET_KEY"),
        ({"NOTARYLINK_TURN_URLS": "turn:t.example.org"}, "NOTARYLINK_TURN_SECRET"),
    ],
)
def test_production_refuses_development_defaults(override: dict[str, str], variable: str) -> None:
    env = {**PRODUCTION, **override}
    env = {k: v for k, v in env.items() if v != ""}
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        load_settings(env, dotenv=None)


def test_development_token_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = load_settings({"NOTARYLINK_DATA_DIR": str(tmp_path)}, dotenv=None)
    first = prepare_secrets(settings)
    second = prepare_secrets(settings)
    assert first.token_secret is not None and second.token_secret is not None
    assert first.token_secret.value == second.token_secret.value
    assert len(first.token_secret.value) >= 32
    assert (settings.token_secret_path.stat().st_mode & 0o777) == 0o600


def test_secrets_never_show_in_repr_or_description() -> None:
    settings = load_settings(
        {
            **PRODUCTION,
            "NOTARYLINK_DATABASE_URL": "postgresql+asyncpg://app:hunter2@db/notarylink",
        },
        dotenv=None,
    )
    shown = repr(settings) + str(settings.describe())
    for secret in ("x" * 40, "prod-secret-key", "hunter2"):
        assert secret not in shown
    assert repr(Secret("abc")) == "Secret('********')"


def test_mask_url_password() -> None:
    assert mask_url_password("redis://:pw@h:6379/0") == "redis://:********@h:6379/0"
    assert mask_url_password("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_readme_documents_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [env_name(name) for name in VARIABLES if f"`{env_name(name)}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


def test_development_signing_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings({"NOTARYLINK_DATA_DIR": str(tmp_path)}, dotenv=None)
    prepare_secrets(settings)
    key_file = settings.effective_signing_key_path
    first = key_file.read_bytes()
    prepare_secrets(settings)
    assert key_file.read_bytes() == first
    assert (key_file.stat().st_mode & 0o777) == 0o600
    assert isinstance(load_private_key(key_file), Ed25519PrivateKey)


def test_a_named_signing_key_must_be_readable_at_start(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "NOTARYLINK_DATA_DIR": str(tmp_path),
            "NOTARYLINK_SIGNING_KEY_PATH": str(tmp_path / "no.pem"),
        },
        dotenv=None,
    )
    with pytest.raises(SigningKeyError, match=r"no\.pem"):
        prepare_secrets(settings)
    assert not (tmp_path / "no.pem").exists()  # never generated behind the operator's back


def test_a_tsa_needs_its_roots() -> None:
    with pytest.raises(SettingsError, match=r"^NOTARYLINK_TSA_ROOTS_PATH: "):
        load_settings({"NOTARYLINK_TSA_URL": "https://tsa.example/tsr"}, dotenv=None)
    settings = load_settings(
        {"NOTARYLINK_TSA_URL": "https://tsa.example/tsr", "NOTARYLINK_TSA_ROOTS_PATH": "/r.pem"},
        dotenv=None,
    )
    assert settings.tsa_roots_path == Path("/r.pem")


def test_the_event_loop_is_uvloop_unless_asked_otherwise() -> None:
    assert load_settings({}, dotenv=None).event_loop == "uvloop"
    chosen = load_settings({"NOTARYLINK_EVENT_LOOP": "asyncio"}, dotenv=None)
    assert chosen.event_loop == "asyncio"
    with pytest.raises(SettingsError, match="NOTARYLINK_EVENT_LOOP"):
        load_settings({"NOTARYLINK_EVENT_LOOP": "trio"}, dotenv=None)
