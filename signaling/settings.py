"""One typed settings object, read from environment variables and an optional `.env` file.

Every variable is prefixed `NOTARYLINK_`. An invalid value fails at start with a message that names
the variable. In production mode the development defaults (token secret, signing key, S3
credentials) are refused, so a forgotten variable can never ship a known secret.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from recorder.keys import load_private_key, write_new_key
from recorder.retention import RetentionClass, parse_retention_classes

PREFIX = "NOTARYLINK_"

# Development defaults. SeaweedFS started by `make run` and the tests accepts these keys and
# listens on 127.0.0.1 only; production mode refuses them.
DEV_S3_ACCESS_KEY = "notarylink-dev"
DEV_S3_SECRET_KEY = "notarylink-dev-secret-key"

Environment = Literal["development", "production"]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A value that never shows itself in a repr, a log line or a traceback."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class Settings:
    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite under data_dir
    redis_url: str = ""  # empty: single node, no Redis
    s3_endpoint: str = "http://127.0.0.1:8333"
    s3_region: str = "us-east-1"
    s3_access_key: str = DEV_S3_ACCESS_KEY
    s3_secret_key: Secret = Secret(DEV_S3_SECRET_KEY)
    evidence_bucket: str = "notarylink-evidence"
    materials_bucket: str = "notarylink-materials"
    retention_classes: tuple[RetentionClass, ...] = parse_retention_classes(
        "short=20y,long=60y,permanent=hold"
    )
    signing_key_path: Path | None = None  # empty: data_dir/keys/platform-ed25519.pem
    tsa_url: str = ""  # empty: manifests are signed but not timestamped
    tsa_roots_path: Path | None = None  # PEM bundle of the TSA's root certificates
    token_secret: Secret | None = None  # empty: generated once under data_dir (development)
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: Secret | None = None
    reconnect_grace_seconds: int = 60
    face_match_threshold: float | None = None  # None: identity.policy's provisional default
    face_encoder_processes: int = 0
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    forwarding_core: bool = True

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'notarylink.db').resolve()}"

    @property
    def effective_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "keys" / "platform-ed25519.pem"

    @property
    def token_secret_path(self) -> Path:
        return self.data_dir / "secrets" / "token-secret"

    def __repr__(self) -> str:
        return f"Settings({self.describe()})"

    def describe(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, for logs and `notarylink config`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[f.name] = "********"
            elif isinstance(value, Path):
                out[f.name] = str(value)
            elif f.name == "retention_classes":
                out[f.name] = [c.spec for c in value]
            elif f.name in ("database_url", "redis_url"):
                out[f.name] = mask_url_password(value)
            else:
                out[f.name] = value
        return out


# --- parsing -----------------------------------------------------------------------------------


def _int_port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name}: port must be between 1 and 65535, got {port}")
    return port


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name}: expected an http(s) URL like https://host:port, got {raw!r}")
    return raw.rstrip("/")


def _optional_http_url(name: str, raw: str) -> str:
    return _http_url(name, raw) if raw else ""


def _database_url(name: str, raw: str) -> str:
    if not raw:
        return ""
    scheme = urlsplit(raw).scheme
    if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise SettingsError(
            f"{name}: expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB, "
            f"got a {scheme or 'scheme-less'} URL"
        )
    return raw


def _redis_url(name: str, raw: str) -> str:
    if raw and urlsplit(raw).scheme not in ("redis", "rediss"):
        raise SettingsError(f"{name}: expected redis://HOST:PORT/DB")
    return raw


def _environment(name: str, raw: str) -> Environment:
    if raw not in ("development", "production"):
        raise SettingsError(f"{name}: expected 'development' or 'production', got {raw!r}")
    return raw  # type: ignore[return-value]


def _bucket(name: str, raw: str) -> str:
    # S3 bucket naming rules (the subset every S3 server accepts).
    ok = 3 <= len(raw) <= 63 and all(c.islower() or c.isdigit() or c in "-." for c in raw)
    if not ok or not raw[0].isalnum() or not raw[-1].isalnum():
        raise SettingsError(
            f"{name}: bucket names are 3-63 lowercase letters, digits, '-' or '.', got {raw!r}"
        )
    return raw


def _ice_urls(allowed: tuple[str, ...]) -> Callable[[str, str], tuple[str, ...]]:
    def parse(name: str, raw: str) -> tuple[str, ...]:
        urls = tuple(u.strip() for u in raw.split(",") if u.strip())
        for url in urls:
            if url.split(":", 1)[0] not in allowed:
                raise SettingsError(f"{name}: {url!r} must start with one of {', '.join(allowed)}")
        return urls

    return parse


def _seconds(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected whole seconds, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}: must be between {low} and {high} seconds")
        return value

    return parse


def _face_threshold(name: str, raw: str) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a face distance like 0.5, got {raw!r}") from None
    # Distances of unit-length 128-d encodings; the model's own suggestion is 0.6. Anything far
    # from that range is a typo, and a too-lenient threshold accepts impostors.
    if not 0.3 <= value <= 0.7:
        raise SettingsError(
            f"{name}: must be between 0.3 and 0.7 (see `notarylink identity calibrate`)"
        )
    return value


def _encoder_processes(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected 0, 1 or 2, got {raw!r}") from None
    if value not in (0, 1, 2):
        raise SettingsError(f"{name}: expected 0, 1 or 2, got {raw!r}")
    return value


def _log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"{name}: expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return level


def _log_format(name: str, raw: str) -> str:
    if raw not in ("json", "text"):
        raise SettingsError(f"{name}: expected 'json' or 'text', got {raw!r}")
    return raw


def _event_loop(name: str, raw: str) -> str:
    if raw not in ("uvloop", "asyncio"):
        raise SettingsError(f"{name}: expected 'uvloop' or 'asyncio', got {raw!r}")
    return raw


def _switch(name: str, raw: str) -> bool:
    if raw not in ("0", "1"):
        raise SettingsError(f"{name}: expected 1 (on) or 0 (off), got {raw!r}")
    return raw == "1"


def _retention(name: str, raw: str) -> tuple[RetentionClass, ...]:
    try:
        return parse_retention_classes(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _secret(name: str, raw: str) -> Secret | None:
    return Secret(raw) if raw else None


def _required_secret(name: str, raw: str) -> Secret:
    if not raw:
        raise SettingsError(f"{name}: must not be empty")
    return Secret(raw)


def _path(name: str, raw: str) -> Path:
    if not raw:
        raise SettingsError(f"{name}: must not be empty")
    return Path(raw)


def _optional_path(name: str, raw: str) -> Path | None:
    return Path(raw) if raw else None


def _text(name: str, raw: str) -> str:
    if not raw:
        raise SettingsError(f"{name}: must not be empty")
    return raw


# field name -> (parser, one-line description). The README's table is generated from this.
VARIABLES: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "environment": (_environment, "`development` (defaults for `make run`) or `production`"),
    "host": (_text, "address the HTTP server binds"),
    "port": (_int_port, "port the HTTP server binds"),
    "public_base_url": (_http_url, "base URL people open; join links and QR codes use it"),
    "data_dir": (_path, "local state: SQLite file, spool, generated development keys"),
    "database_url": (_database_url, "SQLAlchemy URL; empty = SQLite under the data dir"),
    "redis_url": (_redis_url, "Redis for several nodes (rooms, pub/sub); empty = one node"),
    "s3_endpoint": (_http_url, "S3 API endpoint (MinIO in deploy/, SeaweedFS for `make run`)"),
    "s3_region": (_text, "S3 region name"),
    "s3_access_key": (_text, "S3 access key"),
    "s3_secret_key": (_required_secret, "S3 secret key"),
    "evidence_bucket": (_bucket, "bucket for recordings and manifests (object lock on)"),
    "materials_bucket": (_bucket, "bucket for uploaded case materials (object lock on)"),
    "retention_classes": (
        _retention,
        "retention per class, e.g. `short=20y,long=60y,permanent=hold`",
    ),
    "signing_key_path": (_optional_path, "Ed25519 private key (PEM) that signs manifests"),
    "tsa_url": (_optional_http_url, "RFC 3161 timestamp authority; empty = no timestamps"),
    "tsa_roots_path": (
        _optional_path,
        "PEM file of the TSA's root certificates: each new timestamp and each verdict is checked "
        "against it",
    ),
    "token_secret": (_secret, "secret for signed join links and session tokens (32+ bytes)"),
    "stun_urls": (_ice_urls(("stun", "stuns")), "comma-separated STUN URLs handed to browsers"),
    "turn_urls": (_ice_urls(("turn", "turns")), "comma-separated TURN URLs (udp, tcp, tls)"),
    "turn_secret": (_secret, "coturn `static-auth-secret` for short-lived TURN credentials"),
    "reconnect_grace_seconds": (
        _seconds(5, 600),
        "how long a dropped participant may rejoin the same session as themselves",
    ),
    "face_match_threshold": (
        _face_threshold,
        "face distance at or below which the live face matches the ID, as calibrated with "
        "`notarylink identity calibrate`; empty = provisional 0.55",
    ),
    "face_encoder_processes": (
        _encoder_processes,
        "worker processes that compute face encodings (0, 1 or 2); 0: in the server's face "
        "threads (numpy releases the GIL; docs/identity.md)",
    ),
    "log_level": (_log_level, "DEBUG, INFO, WARNING or ERROR"),
    "log_format": (_log_format, "`json` (one object per line) or `text`"),
    "event_loop": (
        _event_loop,
        "`uvloop` (libuv: about 12 % less CPU per session at 10 sessions, docs/bench/README.md) or "
        "`asyncio` (the standard library's loop)",
    ),
    "forwarding_core": (
        _switch,
        "`1`: packets of started subscribers are forwarded by media/_core.c where it was built "
        "(docs/media.md); `0`: in Python",
    ),
}


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments and blank lines skipped; optional matching quotes removed."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Settings from `environ` (default: os.environ) over an optional .env file over defaults."""
    source: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        source.update(read_dotenv(dotenv))
    source.update(os.environ if environ is None else environ)

    known = {env_name(name) for name in VARIABLES}
    unknown = sorted(k for k in source if k.startswith(PREFIX) and k not in known)
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting (known: see the README's table)")

    values: dict[str, Any] = {}
    for name, (parse, _) in VARIABLES.items():
        raw = source.get(env_name(name))
        if raw is not None:
            values[name] = parse(env_name(name), raw.strip())
    settings = Settings(**values)
    if settings.tsa_url and settings.tsa_roots_path is None:
        # Without the roots no timestamp could ever be checked: every verdict would fail.
        raise SettingsError(f"{env_name('tsa_roots_path')}: required when a TSA URL is set")
    if settings.production:
        _refuse_development_defaults(settings)
    return settings


def _refuse_development_defaults(settings: Settings) -> None:
    if settings.token_secret is None:
        raise SettingsError(f"{env_name('token_secret')}: required in production")
    if len(settings.token_secret.value.encode()) < 32:
        raise SettingsError(f"{env_name('token_secret')}: must be at least 32 bytes")
    if settings.signing_key_path is None:
        raise SettingsError(
            f"{env_name('signing_key_path')}: required in production (no generated key)"
        )
    if settings.s3_access_key == DEV_S3_ACCESS_KEY:
        raise SettingsError(f"{env_name('s3_access_key')}: the development key is refused")
    if settings.s3_secret_key.value == DEV_S3_SECRET_KEY:
        raise SettingsError(f"{env_name('s3_secret_key')}: the development key is refused")
    if settings.turn_urls and settings.turn_secret is None:
        raise SettingsError(f"{env_name('turn_secret')}: required when TURN URLs are set")


def prepare_secrets(settings: Settings) -> Settings:
    """Development only: create the token secret and signing key once under data_dir.

    Production settings name both explicitly (load_settings refuses them otherwise), and a key
    file that exists is never replaced: manifests signed with it must stay verifiable.
    """
    if settings.signing_key_path is None:
        key_path = settings.effective_signing_key_path
        if not key_path.exists():
            write_new_key(key_path)
    else:
        load_private_key(settings.signing_key_path)  # fail at start, not at the first seal
    if settings.token_secret is not None:
        return settings
    path = settings.token_secret_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return replace(settings, token_secret=Secret(path.read_text().strip()))


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return parts._replace(netloc=netloc).geturl()
