"""deploy/: the compose file and the Kubernetes manifests give the app every setting it needs.

No Docker engine and no cluster run on the development machine, so these files are checked here by
parsing them (PyYAML) and resolving what the app container would see: `environment:` with
`${VAR}` interpolation from `.env.example` (compose), and `envFrom`/`env` with ConfigMap and Secret
references and `$(VAR)` expansion (Kubernetes). The names of the settings come from
`signaling.settings.VARIABLES`; the resolved environment is fed to `load_settings` exactly as the
app does at start.
"""

from __future__ import annotations

import base64
import hashlib
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from signaling import settings as app_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOTENV_EXAMPLE = DEPLOY / ".env.example"
K8S = DEPLOY / "k8s"
SECRET_TEMPLATE_DIR = K8S / "secret-template"

NAMESPACE = "notarylink"
APP = "notarylink"  # Deployment and container name in k8s
COMPOSE_APP = "app"
PLACEHOLDER = "CHANGE-ME"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
CLUSTER_SCOPED_KINDS = ("Namespace",)
MINIO_DRIVES = 4

PREFIX = app_settings.PREFIX
# env var name -> settings field name, from the one list the app itself uses.
SETTINGS: dict[str, str] = {app_settings.env_name(name): name for name in app_settings.VARIABLES}

# Values of `fieldRef`s, which only a running pod knows.
FIELD_STAND_INS = {"status.podIP": "10.0.0.10", "status.hostIP": "10.0.0.10"}

# An environment variable name that looks like it carries a credential.
SECRETISH_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|_AUTH)$")


def _secret_typed_settings() -> set[str]:
    """Env names of the settings whose type is `Secret` (masked in logs): they hold secrets."""
    hints = typing.get_type_hints(app_settings.Settings)
    names: set[str] = set()
    for f in fields(app_settings.Settings):
        hint = hints[f.name]
        if hint is app_settings.Secret or app_settings.Secret in typing.get_args(hint):
            names.add(app_settings.env_name(f.name))
    return names


# The S3 access key is typed `str` but is the MinIO root user: a credential all the same.
CREDENTIAL_SETTINGS = _secret_typed_settings() | {app_settings.env_name("s3_access_key")}


def test_the_settings_module_still_has_the_settings_this_test_reasons_about() -> None:
    expected = {"token_secret", "s3_secret_key", "turn_secret", "s3_access_key"}
    assert {SETTINGS[n] for n in CREDENTIAL_SETTINGS} == expected, (
        "the Secret-typed settings changed: check that deploy/ takes the new ones from a Secret"
    )


# --- loading ------------------------------------------------------------------------------------


def stand_in(*parts: str) -> str:
    """A deterministic stand-in for a placeholder secret: 64 hex chars, URL- and shell-safe."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def load_dotenv_example() -> dict[str, str]:
    return app_settings.read_dotenv(DOTENV_EXAMPLE)


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_k8s_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in k8s_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is None:
                continue
            assert isinstance(doc, dict), f"{path}: a document that is not a mapping"
            doc["__file__"] = path
            objects.append(doc)
    return objects


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def dotenv_example() -> dict[str, str]:
    return load_dotenv_example()


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return load_k8s_objects()


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"k8s: expected exactly one {kind} {name!r}, found {len(matches)}"
    found: dict[str, Any] = matches[0]
    return found


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(matches) == 1, f"{obj['kind']} {obj['metadata']['name']}: no container {name!r}"
    found: dict[str, Any] = matches[0]
    return found


# --- resolving what a container sees ----------------------------------------------------------


@dataclass(frozen=True)
class EnvVar:
    raw: str  # as written, before expansion
    value: str  # as the process would see it
    kind: str  # literal | configmap | secret | field | dotenv
    ref: tuple[str, str] | None = None  # (object, key) for configmap/secret
    uses: tuple[str, ...] = ()  # variables referenced by $(VAR) or ${VAR}


def secret_data(obj: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    return data


def object_data(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, str]:
    obj = find(objects, kind, name)
    if kind == "Secret":
        return secret_data(obj)
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


K8S_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def k8s_expand(raw: str, env: Mapping[str, EnvVar]) -> tuple[str, tuple[str, ...]]:
    """Kubernetes' dependent variables: $(VAR) from variables defined before, $$ is a `$`."""
    uses: list[str] = []

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        uses.append(name)
        return env[name].value if name in env else match.group(0)

    return K8S_REF.sub(sub, raw), tuple(uses)


ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def resolve_k8s_env(c: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, EnvVar]:
    """The environment of a container, in Kubernetes' order: envFrom first, then env."""
    env: dict[str, EnvVar] = {}
    for source in c.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            kind, ref, label = "ConfigMap", source["configMapRef"], "configmap"
        else:
            kind, ref, label = "Secret", source["secretRef"], "secret"
        for key, value in object_data(objects, kind, ref["name"]).items():
            if ENV_NAME.match(prefix + key):
                env[prefix + key] = EnvVar(value, value, label, (ref["name"], key))
    for item in c.get("env", []):
        name = item["name"]
        if "valueFrom" not in item:
            raw = str(item.get("value", ""))
            value, uses = k8s_expand(raw, env)
            env[name] = EnvVar(raw, value, "literal", None, uses)
            continue
        value_from = item["valueFrom"]
        if "fieldRef" in value_from:
            path = value_from["fieldRef"]["fieldPath"]
            env[name] = EnvVar(path, FIELD_STAND_INS[path], "field")
            continue
        if "secretKeyRef" in value_from:
            kind, ref, label = "Secret", value_from["secretKeyRef"], "secret"
        elif "configMapKeyRef" in value_from:
            kind, ref, label = "ConfigMap", value_from["configMapKeyRef"], "configmap"
        else:
            raise AssertionError(f"{name}: unsupported valueFrom {sorted(value_from)}")
        data = object_data(objects, kind, ref["name"])
        assert ref["key"] in data, f"{name}: {kind} {ref['name']!r} has no key {ref['key']!r}"
        env[name] = EnvVar(data[ref["key"]], data[ref["key"]], label, (ref["name"], ref["key"]))
    return env


COMPOSE_REF = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def compose_interpolate(raw: str, dotenv: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $$."""
    uses: list[str] = []

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        uses.append(name)
        op, arg = match.group("op"), match.group("arg") or ""
        value = dotenv.get(name)
        unset_or_empty = not value
        if op in (":?", "?") and (value is None if op == "?" else unset_or_empty):
            raise AssertionError(f"compose: {name} is required ({arg}) and .env.example lacks it")
        if op == ":-" and unset_or_empty:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return COMPOSE_REF.sub(sub, raw), tuple(uses)


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) for item in environment)
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def resolve_compose_env(service: dict[str, Any], dotenv: Mapping[str, str]) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    for name, raw in compose_environment(service).items():
        value, uses = compose_interpolate(raw, dotenv)
        env[name] = EnvVar(raw, value, "dotenv" if uses else "literal", None, uses)
    return env


def command_text(service_or_container: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("command", "args"):
        value = service_or_container.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif value:
            parts.extend(str(v) for v in value)
    return " ".join(parts)


def settings_environ(env: Mapping[str, EnvVar]) -> dict[str, str]:
    return {k: v.value for k, v in env.items() if k.startswith(PREFIX)}


def with_stand_in_secrets_k8s(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects with each placeholder in a Secret replaced by a stand-in value."""
    out: list[dict[str, Any]] = []
    for obj in objects:
        if obj["kind"] == "Secret":
            name = obj["metadata"]["name"]
            data = {
                k: stand_in(name, k) if v == PLACEHOLDER else v for k, v in secret_data(obj).items()
            }
            obj = {**obj, "data": {}, "stringData": data}
        out.append(obj)
    return out


def with_stand_in_secrets_dotenv(dotenv: Mapping[str, str]) -> dict[str, str]:
    return {k: stand_in("dotenv", k) if v == PLACEHOLDER else v for k, v in dotenv.items()}


def production_required(environ: Mapping[str, str]) -> set[str]:
    """Settings production refuses to start without, found by leaving each out of `environ`."""
    app_settings.load_settings(environ, dotenv=None)
    required: set[str] = set()
    for name in SETTINGS:
        try:
            app_settings.load_settings({k: v for k, v in environ.items() if k != name}, dotenv=None)
        except app_settings.SettingsError:
            required.add(name)
    return required


# --- the two app environments --------------------------------------------------------------------


def k8s_app(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = find(objects, "Deployment", APP)
    return deployment, container(deployment, APP)


def k8s_app_env(objects: list[dict[str, Any]]) -> dict[str, EnvVar]:
    return resolve_k8s_env(k8s_app(objects)[1], objects)


def compose_app_env(compose: dict[str, Any], dotenv: Mapping[str, str]) -> dict[str, EnvVar]:
    return resolve_compose_env(compose["services"][COMPOSE_APP], dotenv)


def both_app_envs(
    compose: dict[str, Any], dotenv: Mapping[str, str], objects: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, EnvVar]]]:
    yield "compose service 'app'", compose_app_env(compose, dotenv)
    yield f"k8s Deployment {APP!r}", k8s_app_env(objects)


# --- every setting, and only known ones ----------------------------------------------------------


def test_every_setting_is_provided_to_the_app(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    # All of them, not only those production refuses to miss: a default left to chance is a
    # development default (127.0.0.1, SQLite, the local S3 server) running in production.
    problems = []
    for where, env in both_app_envs(compose, dotenv_example, k8s):
        missing = [
            f"{name} ({app_settings.VARIABLES[field][1]})"
            for name, field in SETTINGS.items()
            if name not in env
        ]
        if missing:
            problems.append(f"{where}: settings not provided: {', '.join(missing)}")
    assert not problems, "\n".join(problems)


def test_no_unknown_notarylink_variable_is_set(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    for where, env in both_app_envs(compose, dotenv_example, k8s):
        unknown = sorted(n for n in env if n.startswith(PREFIX) and n not in SETTINGS)
        assert not unknown, f"{where}: the app refuses unknown settings at start: {unknown}"
    for obj in k8s:
        if obj["kind"] == "ConfigMap":
            unknown = sorted(k for k in obj.get("data") or {} if k not in SETTINGS)
            assert not unknown, f"ConfigMap {obj['metadata']['name']}: not settings: {unknown}"


def test_production_required_settings_are_provided_and_not_empty(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    stand_ins = with_stand_in_secrets_k8s(k8s)
    environ = settings_environ(k8s_app_env(stand_ins))
    required = production_required(environ)
    # The probe must find what production refuses to default: a secret for the join links,
    # the signing key and S3 keys that are not the development ones, the TURN secret.
    assert required >= CREDENTIAL_SETTINGS, f"the probe found only {sorted(required)}"
    problems = []
    for where, env in both_app_envs(compose, dotenv_example, k8s):
        empty = sorted(n for n in required if not env.get(n, EnvVar("", "", "")).value)
        if empty:
            problems.append(f"{where}: required in production but absent or empty: {empty}")
    assert not problems, "\n".join(problems)


# --- the app accepts the environment at start ----------------------------------------------------


def check_accepted(where: str, environ: dict[str, str]) -> app_settings.Settings:
    try:
        loaded = app_settings.load_settings(environ, dotenv=None)
    except app_settings.SettingsError as exc:
        raise AssertionError(f"{where}: the app would refuse to start: {exc}") from None
    assert loaded.production, f"{where}: NOTARYLINK_ENVIRONMENT must be production"
    assert loaded.database_url.startswith("postgresql+asyncpg://"), where
    assert loaded.redis_url.startswith("redis://"), where
    assert loaded.turn_urls and loaded.turn_secret is not None, where
    assert {u.split(":", 1)[0] for u in loaded.turn_urls} == {"turn", "turns"}, (
        f"{where}: offer TURN over UDP/TCP and over TLS"
    )
    assert loaded.host != "127.0.0.1" or where.startswith("compose"), where
    return loaded


def test_k8s_environment_is_accepted_by_load_settings(k8s: list[dict[str, Any]]) -> None:
    environ = settings_environ(k8s_app_env(with_stand_in_secrets_k8s(k8s)))
    loaded = check_accepted("k8s", environ)
    assert loaded.s3_secret_key.value == stand_in("notarylink-secrets", "s3-secret-key")
    assert urlsplit(loaded.database_url).password == stand_in(
        "notarylink-secrets", "postgres-password"
    )


def test_compose_environment_is_accepted_by_load_settings(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    dotenv = with_stand_in_secrets_dotenv(dotenv_example)
    loaded = check_accepted("compose", settings_environ(compose_app_env(compose, dotenv)))
    assert loaded.token_secret is not None
    assert loaded.token_secret.value == stand_in("dotenv", "TOKEN_SECRET")


def test_unedited_placeholders_are_refused_by_the_app(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    # Whoever applies the templates without filling them in gets an app that does not start.
    for where, env in both_app_envs(compose, dotenv_example, k8s):
        with pytest.raises(app_settings.SettingsError):
            app_settings.load_settings(settings_environ(env), dotenv=None)
        assert any(v.value == PLACEHOLDER for v in env.values()), where


# --- secrets come from a Secret (k8s) or from .env (compose) -------------------------------------


def test_k8s_credentials_come_from_a_secret(k8s: list[dict[str, Any]]) -> None:
    env = k8s_app_env(k8s)
    for name in sorted(CREDENTIAL_SETTINGS):
        assert env[name].kind == "secret", (
            f"k8s: {name} must come from a Secret (secretKeyRef or envFrom secretRef), "
            f"not from a {env[name].kind}"
        )
    # URLs that carry a password take it from a Secret-sourced variable, never inline.
    for name, var in env.items():
        password = urlsplit(var.raw).password if "://" in var.raw else None
        if name.startswith(PREFIX) and password:
            ref = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", password)
            assert ref, f"k8s: {name} has a literal password; use $(VAR) from a Secret"
            assert env[ref.group(1)].kind == "secret", f"k8s: {name}: {ref.group(1)} not a Secret"
            assert var.value != var.raw, f"k8s: {name}: $(…) defined after use, not expanded"


def test_compose_credentials_come_from_dotenv(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    env = compose_app_env(compose, dotenv_example)
    whole = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")
    for name in sorted(CREDENTIAL_SETTINGS):
        match = whole.fullmatch(env[name].raw)
        assert match, f"compose: {name} must be a ${{VAR}} from .env, got {env[name].raw!r}"
        assert dotenv_example.get(match.group(1)) == PLACEHOLDER, (
            f".env.example: {match.group(1)} must be the placeholder {PLACEHOLDER}"
        )
    for name, var in env.items():
        password = urlsplit(var.raw).password if "://" in var.raw else None
        if name.startswith(PREFIX) and password:
            assert whole.fullmatch(password), f"compose: {name} has a literal password"


def test_no_secret_is_written_inline(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    for service_name, service in compose["services"].items():
        for name, raw in compose_environment(service).items():
            if SECRETISH_NAME.search(name):
                assert raw.startswith("${"), f"compose {service_name}: {name} is inline"
    for key, value in dotenv_example.items():
        if SECRETISH_NAME.search(key) or key.endswith("_KEY"):
            assert value == PLACEHOLDER, f".env.example: {key} must be {PLACEHOLDER}"
    for obj in k8s:
        where = f"{obj['kind']} {obj['metadata']['name']}"
        if obj["kind"] == "Secret":
            assert obj["__file__"].parent == SECRET_TEMPLATE_DIR, (
                f"{where}: Secrets live only in {SECRET_TEMPLATE_DIR.relative_to(ROOT)}"
            )
            assert set(secret_data(obj).values()) == {PLACEHOLDER}, f"{where}: not a placeholder"
            assert PLACEHOLDER in obj["__file__"].read_text(), where
        if obj["kind"] in WORKLOAD_KINDS:
            for c in containers(obj):
                for item in c.get("env", []):
                    if SECRETISH_NAME.search(item["name"]):
                        assert "valueFrom" in item, f"{where}: {item['name']} is inline"


def test_the_secret_template_is_not_applied_with_the_rest() -> None:
    # `kubectl apply -f deploy/k8s/` reads only the top level; the template sits below it.
    top_level = [p for p in K8S.iterdir() if p.suffix in (".yaml", ".yml")]
    for path in top_level:
        assert "kind: Secret" not in path.read_text(), f"{path}: a Secret next to the manifests"
    assert any(SECRET_TEMPLATE_DIR.glob("*.yaml")), "the Secret template is missing"


# --- TURN: one secret for coturn and the app -----------------------------------------------------


def test_k8s_coturn_and_app_share_the_turn_secret(k8s: list[dict[str, Any]]) -> None:
    app_turn = k8s_app_env(k8s)["NOTARYLINK_TURN_SECRET"]
    coturn = find(k8s, "DaemonSet", "coturn")
    c = container(coturn, "coturn")
    args = [str(a) for a in c.get("command", []) + c.get("args", [])]
    assert "--use-auth-secret" in args, "coturn: --use-auth-secret (TURN REST credentials)"
    secret_args = [a for a in args if a.startswith("--static-auth-secret=")]
    assert len(secret_args) == 1, "coturn: exactly one --static-auth-secret"
    ref = re.fullmatch(r"--static-auth-secret=\$\(([A-Za-z_][A-Za-z0-9_]*)\)", secret_args[0])
    assert ref, "coturn: --static-auth-secret must be $(VAR) from a Secret"
    coturn_env = resolve_k8s_env(c, k8s)
    assert coturn_env[ref.group(1)].kind == "secret"
    assert coturn_env[ref.group(1)].ref == app_turn.ref, (
        f"coturn reads {coturn_env[ref.group(1)].ref}, the app reads {app_turn.ref}: "
        "they must be the same Secret key"
    )


def test_compose_coturn_and_app_share_the_turn_secret(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    app_raw = compose_app_env(compose, dotenv_example)["NOTARYLINK_TURN_SECRET"].raw
    coturn = command_text(compose["services"]["coturn"])
    assert "--use-auth-secret" in coturn
    coturn_ref = re.search(r"--static-auth-secret=\$\{([A-Za-z_][A-Za-z0-9_]*)", coturn)
    app_ref = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*).*\}", app_raw)
    assert coturn_ref and app_ref, "compose: TURN secret must be ${VAR} in coturn and app"
    assert coturn_ref.group(1) == app_ref.group(1), "compose: coturn and app TURN secrets differ"


def test_turn_urls_match_coturn_ports(
    compose: dict[str, Any], dotenv_example: dict[str, str], k8s: list[dict[str, Any]]
) -> None:
    checks = (
        (compose_app_env(compose, dotenv_example), command_text(compose["services"]["coturn"])),
        (k8s_app_env(k8s), command_text(container(find(k8s, "DaemonSet", "coturn"), "coturn"))),
    )
    for env, coturn_cmd in checks:
        listening = re.search(r"--listening-port=(\d+)", coturn_cmd)
        tls = re.search(r"--tls-listening-port=(\d+)", coturn_cmd)
        assert listening and tls, "coturn: listening and TLS ports must be explicit"
        for url in env["NOTARYLINK_TURN_URLS"].value.split(","):
            scheme, rest = url.split(":", 1)
            port = re.search(r":(\d+)", rest)
            assert port, f"{url}: name the port"
            expected = tls.group(1) if scheme == "turns" else listening.group(1)
            assert port.group(1) == expected, f"{url}: coturn listens on {expected}"


# --- the same credentials on both ends of each connection ---------------------------------------


def test_k8s_servers_and_app_use_the_same_secret_keys(k8s: list[dict[str, Any]]) -> None:
    app_env = k8s_app_env(k8s)

    def server_ref(kind: str, name: str, var: str) -> tuple[str, str] | None:
        obj = find(k8s, kind, name)
        return resolve_k8s_env(container(obj, name), k8s)[var].ref

    minio_user = server_ref("StatefulSet", "minio", "MINIO_ROOT_USER")
    minio_password = server_ref("StatefulSet", "minio", "MINIO_ROOT_PASSWORD")
    assert app_env["NOTARYLINK_S3_ACCESS_KEY"].ref == minio_user
    assert app_env["NOTARYLINK_S3_SECRET_KEY"].ref == minio_password
    for setting, kind, server, var in (
        ("NOTARYLINK_DATABASE_URL", "StatefulSet", "postgres", "POSTGRES_PASSWORD"),
        ("NOTARYLINK_REDIS_URL", "StatefulSet", "redis", "REDIS_PASSWORD"),
    ):
        used = app_env[setting].uses
        assert len(used) == 1, f"{setting}: the password must be one $(VAR)"
        assert app_env[used[0]].ref == server_ref(kind, server, var), (
            f"{setting}: password is not the {server} password's Secret key"
        )


def test_k8s_app_urls_point_at_services_that_exist(k8s: list[dict[str, Any]]) -> None:
    env = k8s_app_env(k8s)
    for setting, service, target in (
        ("NOTARYLINK_DATABASE_URL", "postgres", "postgres"),
        ("NOTARYLINK_REDIS_URL", "redis", "redis"),
        ("NOTARYLINK_S3_ENDPOINT", "minio", "minio"),
    ):
        parts = urlsplit(env[setting].value)
        assert parts.hostname == f"{service}.{NAMESPACE}.svc.cluster.local", setting
        svc = find(k8s, "Service", service)
        assert parts.port in [p["port"] for p in svc["spec"]["ports"]], f"{setting}: port"
        labels = find(k8s, "StatefulSet", target)["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items(), f"{service}: selector"


def test_compose_servers_and_app_use_the_same_dotenv_variables(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    app_env = compose_app_env(compose, dotenv_example)
    services = compose["services"]
    minio_env = compose_environment(services["minio1"])

    def var_of(raw: str) -> str:
        match = re.search(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", raw)
        assert match, f"{raw!r} is not a ${{VAR}} interpolation"
        return match.group(1)

    assert var_of(minio_env["MINIO_ROOT_USER"]) == var_of(app_env["NOTARYLINK_S3_ACCESS_KEY"].raw)
    assert var_of(minio_env["MINIO_ROOT_PASSWORD"]) == var_of(
        app_env["NOTARYLINK_S3_SECRET_KEY"].raw
    )
    pg_password = var_of(compose_environment(services["postgres"])["POSTGRES_PASSWORD"])
    assert app_env["NOTARYLINK_DATABASE_URL"].uses == (pg_password,)
    redis_password = var_of(command_text(services["redis"]).split("--requirepass", 1)[1])
    assert app_env["NOTARYLINK_REDIS_URL"].uses == (redis_password,)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def test_every_compose_variable_is_in_env_example(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    used = {
        m.group("name") or m.group("bare")
        for text in strings(compose)
        for m in COMPOSE_REF.finditer(text)
        if m.group(0) != "$$"
    }
    missing = sorted(name for name in used if name not in dotenv_example)
    assert not missing, f".env.example lacks {missing}"


# --- signing key ---------------------------------------------------------------------------------


def test_k8s_signing_key_is_a_mounted_secret_file(k8s: list[dict[str, Any]]) -> None:
    deployment, c = k8s_app(k8s)
    key_path = Path(k8s_app_env(k8s)["NOTARYLINK_SIGNING_KEY_PATH"].value)
    mounts = [m for m in c["volumeMounts"] if key_path.is_relative_to(m["mountPath"])]
    assert len(mounts) == 1, f"{key_path}: not under exactly one volume mount"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    secret_volume = volumes[mounts[0]["name"]].get("secret")
    assert secret_volume, f"{key_path}: the volume is not a Secret"
    relative = str(key_path.relative_to(mounts[0]["mountPath"]))
    items = {i["path"]: i["key"] for i in secret_volume.get("items", [])}
    key = items.get(relative, relative if not items else None)
    assert key, f"{key_path}: the Secret volume does not project {relative}"
    secret = find(k8s, "Secret", secret_volume["secretName"])
    assert key in secret_data(secret), f"Secret {secret_volume['secretName']} has no key {key}"


def test_compose_signing_key_is_a_mounted_secret_file(
    compose: dict[str, Any], dotenv_example: dict[str, str]
) -> None:
    key_path = compose_app_env(compose, dotenv_example)["NOTARYLINK_SIGNING_KEY_PATH"].value
    targets = {}
    for item in compose["services"][COMPOSE_APP].get("secrets", []):
        source = item if isinstance(item, str) else item["source"]
        target = item if isinstance(item, str) else item.get("target", source)
        targets[target if target.startswith("/") else f"/run/secrets/{target}"] = source
    assert key_path in targets, f"compose: {key_path} is not a mounted secret"
    assert targets[key_path] in compose.get("secrets", {}), "compose: undeclared secret"


# --- probes, image, hardening --------------------------------------------------------------------


def test_k8s_objects_are_well_formed(k8s: list[dict[str, Any]]) -> None:
    assert k8s, "no Kubernetes manifests found"
    kinds = {o["kind"] for o in k8s}
    for kind in ("Namespace", "ConfigMap", "Secret", "Deployment", "Service", "StatefulSet"):
        assert kind in kinds, f"k8s: no {kind}"
    assert "PodDisruptionBudget" in kinds and "DaemonSet" in kinds
    seen: set[tuple[str, str]] = set()
    for obj in k8s:
        where = f"{obj['__file__'].relative_to(ROOT)}"
        assert obj.get("apiVersion") and obj.get("kind"), f"{where}: apiVersion and kind"
        name = (obj.get("metadata") or {}).get("name")
        assert name, f"{where}: {obj['kind']} without metadata.name"
        assert (obj["kind"], name) not in seen, f"{where}: {obj['kind']} {name} twice"
        seen.add((obj["kind"], name))
        if obj["kind"] not in CLUSTER_SCOPED_KINDS:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{where}: {name} namespace"


def test_k8s_app_probes(k8s: list[dict[str, Any]]) -> None:
    _, c = k8s_app(k8s)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    port = int(k8s_app_env(k8s)["NOTARYLINK_PORT"].value)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http_get = c[probe]["httpGet"]
        assert http_get["path"] == path, f"k8s app {probe} must GET {path}"
        assert ports.get(http_get["port"], http_get["port"]) == port, f"{probe}: port"
    assert "serve" in c["args"], "k8s app: runs `notarylink serve`"


def test_compose_app_healthcheck(compose: dict[str, Any], dotenv_example: dict[str, str]) -> None:
    service = compose["services"][COMPOSE_APP]
    port = compose_app_env(compose, dotenv_example)["NOTARYLINK_PORT"].value
    test = " ".join(service["healthcheck"]["test"])
    assert f":{port}/readyz" in test, "compose app healthcheck must GET /readyz"
    assert "serve" in command_text(service) and f"--port {port}" in " ".join(service["command"])


def test_k8s_workloads_are_hardened(k8s: list[dict[str, Any]]) -> None:
    for obj in k8s:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext") or {}
        for c in containers(obj):
            where = f"{obj['kind']} {obj['metadata']['name']} container {c['name']}"
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where
            resources = c.get("resources") or {}
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound) or {}), f"{where}: {bound}"
            sc = c.get("securityContext") or {}
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: drop ALL"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}: read-only root"
            assert c.get("livenessProbe") and c.get("readinessProbe"), f"{where}: probes"
    _, app = k8s_app(k8s)
    assert app["securityContext"]["allowPrivilegeEscalation"] is False


def test_compose_services_have_persistence(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volumes = [str(v).split(":") for v in services[name].get("volumes", [])]
        assert any(v[-1] == path and v[0] in compose["volumes"] for v in volumes), name
    assert "--appendonly yes" in command_text(services["redis"])


# --- MinIO: four drives --------------------------------------------------------------------------


def test_compose_minio_is_distributed_over_four_drives(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = sorted(n for n in services if re.fullmatch(r"minio\d+", n))
    assert nodes == [f"minio{i}" for i in range(1, MINIO_DRIVES + 1)], nodes
    drives: set[str] = set()
    for node in nodes:
        volumes = [str(v).split(":") for v in services[node]["volumes"]]
        assert len(volumes) == 1 and volumes[0][1] == "/data", f"{node}: one drive at /data"
        assert volumes[0][0] in compose["volumes"], f"{node}: undeclared volume"
        drives.add(volumes[0][0])
        command = command_text(services[node])
        assert f"server http://minio{{1...{MINIO_DRIVES}}}/data" in command, node
        assert "--console-address" in command, node
        assert services[node].get("hostname") == node, f"{node}: the server URL uses it"
    assert len(drives) == MINIO_DRIVES, "compose: MinIO nodes share a volume"


def test_k8s_minio_is_distributed_over_four_drives(k8s: list[dict[str, Any]]) -> None:
    minio = find(k8s, "StatefulSet", "minio")
    spec = minio["spec"]
    assert spec["replicas"] == MINIO_DRIVES
    assert spec.get("podManagementPolicy") == "Parallel", "MinIO peers must start together"
    assert len(spec["volumeClaimTemplates"]) == 1, "one drive per MinIO pod"
    headless = find(k8s, "Service", spec["serviceName"])
    assert headless["spec"].get("clusterIP") == "None", "serviceName must be headless"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    assert headless["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    args = command_text(container(minio, "minio"))
    host = f"minio-{{0...{MINIO_DRIVES - 1}}}.{spec['serviceName']}.{NAMESPACE}.svc.cluster.local"
    assert f"http://{host}/data" in args, f"k8s: minio server must list http://{host}/data"
    mount = container(minio, "minio")["volumeMounts"]
    drive = spec["volumeClaimTemplates"][0]["metadata"]["name"]
    assert {"name": drive, "mountPath": "/data"} in mount
