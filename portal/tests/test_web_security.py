"""Production mode passes `check --deploy`; every page carries the
Content-Security-Policy; the templates hold nothing the policy would block."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from portal.env import env_header_value, env_networks

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Only what a deployment sets: nothing leaks in from the test run's environment.
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_reports_nothing_in_production_mode(tmp_path: Path) -> None:
    result = _check_deploy(
        tmp_path,
        PORTAL_PRODUCTION="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="status.example.com",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto=https",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _compose_defaults(value: str) -> str:
    """`${NAME:-default}` as docker compose reads it with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_check_deploy_reports_nothing_with_the_docker_compose_environment(tmp_path: Path) -> None:
    import yaml

    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    env = {name: _compose_defaults(str(value)) for name, value in compose["services"]["web"]["environment"].items()}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # compose refuses to start without one
    # The compose network's host names do not resolve here, and the checks need no database.
    env.pop("DATABASE_URL")
    env.pop("REDIS_URL")
    assert env["PORTAL_PRODUCTION"] == "1"
    result = _check_deploy(tmp_path, **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_names_what_is_missing_outside_production_mode(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="status.example.com")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout


def test_production_settings_can_each_be_turned_off(tmp_path: Path) -> None:
    code = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    env = {
        "PATH": os.environ.get("PATH", ""), "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_PRODUCTION": "1", "SECRET_KEY": "x" * 60, "SECURE_SSL_REDIRECT": "off", "SECURE_HSTS_SECONDS": "600",
    }  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stdout.split() == ["False", "600", "True", "True"], out.stderr


@pytest.mark.parametrize(
    ("name", "value", "parse"),
    [
        ("TRUSTED_PROXIES", "10.0.0.0/8, banana", env_networks),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto", env_header_value),
        ("SECURE_PROXY_SSL_HEADER", "X Forwarded=https", env_header_value),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: Any, name: str, value: str, parse: Any) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        parse(name)


def test_good_values_parse(monkeypatch: Any) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto=https")
    assert [str(n) for n in env_networks("TRUSTED_PROXIES")] == ["10.0.0.0/8", "::1/128"]
    assert env_header_value("SECURE_PROXY_SSL_HEADER") == ("HTTP_X_FORWARDED_PROTO", "https")


def test_https_redirect_spares_the_health_probes_and_trusts_the_proxy_header(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    assert client.get("/health/live").status_code == 200
    redirected = client.get("/accounts/login/")
    assert redirected.status_code == 301 and redirected["Location"].startswith("https://")
    assert client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


def _policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/incidents/", "/lockouts/", "/admin/", "/accounts/login/", "/no-such-page/"])
def test_every_page_has_the_strict_policy(cast: Any, path: str) -> None:
    client = Client()
    client.force_login(cast.owner)
    response = client.get(path)
    assert "{#" not in response.content.decode()  # a template comment left open shows as text
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_the_api_docs_page_has_no_inline_script_and_loosens_styles_only(cast: Any) -> None:
    client = Client()
    client.force_login(cast.viewer)
    page = client.get("/api/docs/")
    policy = _policy(page)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    html = page.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    script_url = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html)
    assert script_url is not None
    script = client.get(script_url.group(1).replace("&amp;", "&"))
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# What a policy without 'unsafe-inline'/'unsafe-eval' blocks: inline <script>, inline
# event handlers, javascript: URLs, style attributes and <style> blocks, htmx's hx-on
# (it runs through eval) and js: values.
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style block": re.compile(r"<style", re.I),
    "hx-on": re.compile(r"\shx-on", re.I),
    "js: value": re.compile(r"""(hx-vals|hx-vars)\s*=\s*["']\s*js:""", re.I),
}


def test_no_template_holds_anything_the_policy_blocks() -> None:
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_htmx_runs_without_eval_and_without_injected_styles() -> None:
    base = (TEMPLATES / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'", base)
    assert config is not None
    import json

    values = json.loads(config.group(1))
    assert values["includeIndicatorStyles"] is False and values["allowEval"] is False
    css = (Path(settings.BASE_DIR) / "static/css/portal.css").read_text()
    assert ".htmx-indicator" in css
