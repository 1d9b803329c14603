"""Failed sign-ins lock out the account and the address (django-axes); a manager
lifts a lock-out on the Lock-outs page, through the API or in the admin. Time is
moved with time-machine, never waited for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from portal.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


def _sign_in(client: Client, username: str, password: str, path: str = LOGIN) -> Any:
    return client.post(path, {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _hammer(client: Client, username: str, times: int = LIMIT, path: str = LOGIN) -> list[int]:
    return [_sign_in(client, username, f"wrong-{n}", path).status_code for n in range(times)]


def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_until_the_lock_out_ends(cast: Any) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        codes = _hammer(client, "responder", LIMIT + 5)
        assert codes[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
        assert set(codes[LIMIT - 1 :]) == {429}

        refused = _sign_in(client, "responder", "pw")
        assert refused.status_code == 429 and not _signed_in(client)
        page = refused.content.decode()
        assert "Too many sign-in attempts" in page and 'class="topbar"' in page  # the portal's layout
        until = timezone.now() + settings.AXES_COOLOFF_TIME
        assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
        assert until.strftime("%H:%M") in page

        # From another address too: the account itself is locked.
        elsewhere = Client(REMOTE_ADDR="203.0.113.9")
        assert _sign_in(elsewhere, "responder", "pw").status_code == 429 and not _signed_in(elsewhere)

        clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
        assert _sign_in(Client(REMOTE_ADDR="203.0.113.9"), "responder", "pw").status_code == 429
        # That refusal was one more failure: the wait starts again from it.
        clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        welcome = Client(REMOTE_ADDR="203.0.113.9")
        assert _sign_in(welcome, "responder", "pw").status_code == 302 and _signed_in(welcome)


def test_one_address_guessing_many_accounts_is_locked_out_but_the_accounts_are_not(cast: Any) -> None:
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    codes = [_sign_in(attacker, f"nobody-{n}", "guess").status_code for n in range(LIMIT)]
    assert codes[-1] == 429
    assert _sign_in(attacker, "viewer", "pw").status_code == 429 and not _signed_in(attacker)
    # The accounts guessed at are not locked for anyone else.
    colleague = Client(REMOTE_ADDR="198.51.100.67")
    assert _sign_in(colleague, "viewer", "pw").status_code == 302 and _signed_in(colleague)


def test_the_admin_login_is_locked_out_the_same_way(cast: Any) -> None:
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="198.51.100.8")
    codes = _hammer(client, "root", LIMIT + 2, path="/admin/login/")
    assert codes[-1] == 429 and "Too many sign-in attempts" in _sign_in(client, "root", "wrong", "/admin/login/").content.decode()
    assert _sign_in(client, "root", "pw", "/admin/login/").status_code == 429 and not _signed_in(client)


def test_a_few_wrong_passwords_then_the_right_one_sign_in_and_start_the_count_again(cast: Any) -> None:
    client = Client(REMOTE_ADDR="198.51.100.9")
    assert set(_hammer(client, "responder", LIMIT - 1)) == {200}
    assert _sign_in(client, "responder", "pw").status_code == 302 and _signed_in(client)
    client.logout()
    # The successful sign-in forgot the failures: as many wrong ones again are allowed.
    assert set(_hammer(client, "responder", LIMIT - 1)) == {200}
    assert _sign_in(client, "responder", "pw").status_code == 302


def test_a_manager_lifts_an_account_lock_out_on_the_lock_outs_page(cast: Any) -> None:
    _hammer(Client(REMOTE_ADDR="198.51.100.10"), "responder")
    manager = Client()
    manager.force_login(cast.owner)
    page = manager.get("/lockouts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-lockout="responder"' in html and 'data-lockout="198.51.100.10"' in html

    lifted = manager.post("/lockouts/", {"kind": "username", "value": "responder"}, follow=True)
    assert "Lock-out lifted for account responder" in lifted.content.decode()
    assert 'data-lockout="responder"' not in lifted.content.decode()
    # Lifting again changes nothing and says so without an error.
    assert manager.post("/lockouts/", {"kind": "username", "value": "responder"}).status_code == 302

    person = Client(REMOTE_ADDR="203.0.113.10")
    assert _sign_in(person, "responder", "pw").status_code == 302 and _signed_in(person)


def test_a_manager_lifts_an_address_lock_out_and_a_bad_address_is_a_clear_message(cast: Any) -> None:
    attacker = Client(REMOTE_ADDR="198.51.100.11")
    for n in range(LIMIT):
        _sign_in(attacker, f"nobody-{n}", "guess")
    manager = Client()
    manager.force_login(cast.owner)
    bad = manager.post("/lockouts/", {"kind": "ip_address", "value": "not-an-ip"}, follow=True)
    assert bad.status_code == 200 and "is not an IP address" in bad.content.decode()
    manager.post("/lockouts/", {"kind": "ip_address", "value": "198.51.100.11"})
    assert _sign_in(attacker, "viewer", "pw").status_code == 302


@pytest.mark.parametrize("who", ["responder", "viewer"])
def test_only_managers_see_or_lift_lock_outs(cast: Any, who: str) -> None:
    _hammer(Client(REMOTE_ADDR="198.51.100.12"), "owner")
    client = Client()
    client.force_login(getattr(cast, who))
    assert client.get("/lockouts/").status_code == 403
    assert client.post("/lockouts/", {"kind": "username", "value": "owner"}).status_code == 403
    api = APIClient()
    api.force_authenticate(getattr(cast, who))
    assert api.get("/api/v1/lockouts/").status_code == 403
    assert api.delete("/api/v1/lockouts/accounts/owner/").status_code == 403
    assert AccessAttempt.objects.filter(username="owner").exists()


def test_a_manager_lists_and_lifts_lock_outs_through_the_api(cast: Any) -> None:
    _hammer(Client(REMOTE_ADDR="198.51.100.13"), "viewer")
    api = APIClient()
    api.force_authenticate(cast.owner)
    listed = api.get("/api/v1/lockouts/").json()
    assert {(row["kind"], row["value"]) for row in listed} == {("username", "viewer"), ("ip_address", "198.51.100.13")}
    row = next(row for row in listed if row["kind"] == "username")
    assert row["failures"] == LIMIT and row["locked_until"] > row["last_failure_at"]

    assert api.delete("/api/v1/lockouts/accounts/viewer/").status_code == 204
    assert api.delete("/api/v1/lockouts/accounts/viewer/").status_code == 204  # a retry changes nothing
    assert _sign_in(Client(REMOTE_ADDR="203.0.113.13"), "viewer", "pw").status_code == 302

    _hammer(Client(REMOTE_ADDR="198.51.100.14"), "nobody")
    assert api.delete("/api/v1/lockouts/addresses/198.51.100.14/").status_code == 204
    assert api.get("/api/v1/lockouts/").json() == []
    for path in ("/api/v1/lockouts/addresses/banana/", "/api/v1/lockouts/accounts/a%00b/"):
        bad = api.delete(path)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_failed"


def test_the_admin_lists_attempts_for_managers_to_delete(cast: Any) -> None:
    _hammer(Client(REMOTE_ADDR="198.51.100.15"), "viewer")
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "198.51.100.15" in page.content.decode()


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(cast: Any) -> None:
    # An attacker rotating X-Forwarded-For values is still one address.
    for n in range(LIMIT):
        Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").post(
            LOGIN, {"username": f"nobody-{n}", "password": "guess"}
        )
    assert _sign_in(Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="10.9.9.9"), "viewer", "pw").status_code == 429

    from ipaddress import ip_network

    with override_settings(TRUSTED_PROXIES=[ip_network("10.1.0.0/16")]):
        proxy = "10.1.0.5"
        for n in range(LIMIT):
            # The client forged the left entry; the proxy appended the real one.
            Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 192.0.2.50").post(
                LOGIN, {"username": f"nobody-{n}", "password": "guess"}
            )
        locked = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.50")
        assert _sign_in(locked, "viewer", "pw").status_code == 429
        # Another client behind the same proxy is not locked out with it.
        other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.51")
        assert _sign_in(other, "viewer", "pw").status_code == 302
