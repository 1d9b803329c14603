from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_int, env_url


@pytest.mark.parametrize(
    ("fn", "value", "message"),
    [
        (lambda: env_bool("PORTAL_X"), "maybe", "PORTAL_X='maybe' is not a boolean"),
        (lambda: env_int("PORTAL_X", 1), "ten", "PORTAL_X='ten' is not an integer"),
        (lambda: env_int("PORTAL_X", 1, minimum=1), "0", "PORTAL_X=0 is below the minimum of 1"),
        (lambda: env_choice("PORTAL_X", ["a", "b"], "a"), "c", "PORTAL_X='c' is not one of: a, b"),
        (lambda: env_url("PORTAL_X", ["postgres"]), "mysql://u:secret@h/db", "PORTAL_X must be a URL"),
    ],
)
def test_a_wrong_value_stops_start_up_naming_the_variable(monkeypatch, fn, value: str, message: str) -> None:
    monkeypatch.setenv("PORTAL_X", value)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        fn()
    assert "secret" not in str(caught.value)


def test_defaults_and_good_values(monkeypatch) -> None:
    monkeypatch.delenv("PORTAL_X", raising=False)
    assert env_int("PORTAL_X", 7) == 7 and env_bool("PORTAL_X", True) is True
    monkeypatch.setenv("PORTAL_X", "off")
    assert env_bool("PORTAL_X", True) is False


def test_settings_refuse_a_bad_value_at_start_up() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEBUG": "perhaps"}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr
