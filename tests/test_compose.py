"""docker-compose.yml, the documented deployment, is locked down (issue 13 point 4).

Docker does not run here, so the file is read as compose reads it (YAML with merge keys)
and checked for what would expose the deployment: a port published on every interface, a
default password, a mail catcher or an unauthenticated Temporal UI open to the network, the
app connecting as the schema owner.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.roles import APP_ROLE
from settings import WEBHOOK_SOURCES
from starter.devstack.migrate import url_credentials

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|API_KEY|TOKEN", re.IGNORECASE)
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _environment(service: str) -> dict[str, str]:
    environment = SERVICES[service].get("environment", {})
    if isinstance(environment, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) for item in environment)
    return {str(name): str(value) for name, value in environment.items()}


def _as_deployed(value: str) -> str:
    """The value with each variable replaced by a stand-in, as compose would substitute it."""
    return VARIABLE.sub(lambda match: f"value-of-{match['name'].lower()}", value)


def test_nothing_is_published_beyond_the_hosts_loopback() -> None:
    published = 0
    for name, service in SERVICES.items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):  # the long syntax
                host_ip = str(port.get("host_ip", ""))
            else:
                # "HOST_IP:HOST_PORT:CONTAINER_PORT"; a bare "8080" or "8080:8080" binds
                # every interface (0.0.0.0), as does "0.0.0.0:..."
                parts = str(port).rsplit(":", 2)
                host_ip = parts[0] if len(parts) == 3 else ""
            assert host_ip in LOOPBACK, f"{name} publishes {port!r} beyond loopback"
    assert published, "the API should still be reachable from the host"
    # The database and Temporal's gRPC frontend are reached only inside the compose network.
    for internal in ("postgres", "temporal"):
        assert not SERVICES[internal].get("ports"), internal


def test_the_mail_catcher_is_demo_only_and_smtp_is_required() -> None:
    for name, service in SERVICES.items():
        if "mailpit" in str(service.get("image", "")):
            # A catcher shows every email, signing links included, to whoever opens it.
            assert service.get("profiles") == ["demo"], name
            continue
        if not service.get("profiles"):
            depends = service.get("depends_on", {})
            assert "mailpit" not in depends, f"{name} needs the demo-only mail catcher"
    for sender in ("worker", "api"):
        smtp = VARIABLE.fullmatch(_environment(sender)["SMTP_URL"])
        assert smtp is not None and (smtp["name"], smtp["op"]) == ("SMTP_URL", ":?")


def test_the_temporal_ui_is_local_and_can_require_an_oidc_login() -> None:
    ui = next(s for s in SERVICES.values() if str(s.get("image", "")).startswith("temporalio/ui"))
    environment = {str(k): str(v) for k, v in ui["environment"].items()}
    for name in (
        "TEMPORAL_AUTH_ENABLED",
        "TEMPORAL_AUTH_PROVIDER_URL",
        "TEMPORAL_AUTH_CLIENT_ID",
        "TEMPORAL_AUTH_CLIENT_SECRET",
        "TEMPORAL_AUTH_CALLBACK_URL",
    ):
        match = VARIABLE.search(environment[name])
        assert match is not None and match["name"] == name, f"{name} is not configurable"
    assert environment["TEMPORAL_AUTH_TYPE"] == "oidc"


def test_no_password_has_a_default() -> None:
    required: set[str] = set()
    for text in _strings(COMPOSE):
        for match in VARIABLE.finditer(text):
            if match["op"] in (":?", "?"):
                required.add(match["name"])
            elif match["op"] and SECRET_NAME.search(match["name"]):
                # An empty default means "not configured" (webhooks refused, no OIDC).
                assert match["arg"] == "", f"{match['name']} defaults to {match['arg']!r}"
        # No credentials written into a URL: each password is a required variable. (The
        # error messages are left out: they may show an example URL.)
        bare = VARIABLE.sub(lambda m: "${" + m["name"] + (m["op"] or "") + "}", text)
        for url in re.finditer(r"[a-z]+://([^/\s@]*)@", bare):
            password = url.group(1).partition(":")[2]
            if password:
                variable = VARIABLE.fullmatch(password)
                assert variable is not None and variable["op"] == ":?", url.group(0)
    for service in SERVICES.values():
        for name, value in _environment_items(service):
            if SECRET_NAME.search(name):
                assert VARIABLE.fullmatch(value), f"{name} holds a literal: {value!r}"
    assert {"POSTGRES_PASSWORD", "Q2C_APP_DB_PASSWORD", "Q2C_API_KEY", "SMTP_URL"} <= required


def _environment_items(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        for item in environment:
            name, _, value = item.partition("=")
            yield name, value
    else:
        for name, value in environment.items():
            yield str(name), str(value)


@pytest.mark.parametrize("service", ["worker", "api"])
def test_the_app_connects_as_the_app_role(service: str) -> None:
    environment = _environment(service)
    user, password = url_credentials(_as_deployed(environment["DATABASE_URL"]))
    assert user == APP_ROLE and password
    # The owner's password is the migrate service's alone.
    assert "MIGRATION_DATABASE_URL" not in environment
    assert not any("POSTGRES_PASSWORD" in value for value in environment.values())


def test_migrations_run_as_the_owner_and_the_names_are_the_settings() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["q2c", "migrate"]
    environment = _environment("migrate")
    owner = SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    assert url_credentials(_as_deployed(environment["MIGRATION_DATABASE_URL"]))[0] == owner
    # DATABASE_URL too, so migrating gives q2c_app its login with that password.
    assert url_credentials(_as_deployed(environment["DATABASE_URL"]))[0] == APP_ROLE
    for service in ("worker", "api"):
        assert SERVICES[service]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # Every variable given to q2c is one settings.py reads (README "Configuration").
    source = (ROOT / "settings.py").read_text()
    read = set(re.findall(r'env\.get\(\s*"([A-Z0-9_]+)"', source))
    read |= {f"Q2C_WEBHOOK_SECRET_{source.upper()}" for source in WEBHOOK_SOURCES}
    for service in ("migrate", "worker", "api"):
        assert set(_environment(service)) <= read, service


# --- metrics (issue 16 point 5) ------------------------------------------------------------


def _mounted(service: dict[str, Any]) -> dict[str, Path]:
    """Where each file mounted from the repository lands in the container."""
    found = {}
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source.startswith("./"):
            found[rest.split(":")[0]] = ROOT / source
    return found


def test_prometheus_scrapes_every_worker_and_the_api_on_the_metrics_port() -> None:
    prometheus = SERVICES["prometheus"]
    assert prometheus.get("profiles") == ["monitoring"]
    mounted = _mounted(prometheus)
    config = yaml.safe_load(mounted["/etc/prometheus/prometheus.yml"].read_text())
    port = int(_environment("worker")["Q2C_METRICS_PORT"])
    scraped = {
        name: sd["port"]
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    assert scraped == {"worker": port, "api": port}
    assert _environment("api")["Q2C_METRICS_PORT"] == str(port)
    # Unauthenticated, so never published: only Prometheus, on the compose network, reads it.
    for service in ("worker", "api"):
        published = [str(p) for p in SERVICES[service].get("ports", [])]
        assert not [p for p in published if p.rsplit(":", 1)[-1] == str(port)], service
    for rules in config["rule_files"]:
        assert rules in mounted and mounted[rules].is_file(), rules


def test_the_alert_rules_name_metrics_q2c_exports() -> None:
    from prometheus_client import REGISTRY

    import activities.metrics  # noqa: F401  (registers the worker's metrics)
    import starter.api.metrics  # noqa: F401  (registers the API's metrics)

    # A labelled metric shows no sample until a label set is used: its names are derived.
    suffixes = ("", "_total", "_count", "_sum", "_bucket")
    exported = {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("q2c_")
        for suffix in suffixes
    }
    assert "q2c_outbox_pending_emails" in exported
    rules_file = _mounted(SERVICES["prometheus"])["/etc/prometheus/q2c-alerts.yml"]
    rules = yaml.safe_load(rules_file.read_text())
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\bq2c_[a-z_]+", rule["expr"])
    }
    assert used and used <= exported, used - exported
