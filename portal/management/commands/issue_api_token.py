"""Issue an API token for a user from the command line (deployments, CI, scripts).

    python manage.py issue_api_token --username ci --role responder --scope write --name "smoke test"

Creates the user when missing (with no usable password: it signs in with the
token only), sets their organisation role when --role is given, and prints the
token once on standard output. Only its hash is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.models import ApiToken, Membership, OrgRole, TokenScope


class Command(BaseCommand):
    help = "Create (or reuse) a user, optionally set their role, and print a new API token once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", choices=[c.value for c in OrgRole], help="Organisation role to set on the user.")
        parser.add_argument("--scope", choices=[c.value for c in TokenScope], default=TokenScope.READ.value)
        parser.add_argument("--name", default="command line", help="A label for the token, shown in its list.")

    def handle(self, *args: Any, username: str, role: str | None, scope: str, name: str, **options: Any) -> None:
        username = username.strip()
        if not username or len(username) > 150:
            raise CommandError("--username must be 1 to 150 characters.")
        name = name.strip()[:120] or "command line"
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if not user.is_active:
                raise CommandError(f"User {username!r} is inactive: a token would be refused.")
            if role is not None:
                Membership.objects.update_or_create(user=user, defaults={"role": role})
            _, raw = ApiToken.issue(user=user, name=name, scope=scope)
        self.stderr.write(f"{'created' if created else 'existing'} user {username}; {scope} token {name!r}:")
        # The token alone on stdout, so that scripts can capture it with $(...).
        self.stdout.write(raw)
