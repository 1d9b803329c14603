"""`manage.py portal_export`: the current configuration as a document that
`portal_apply` takes back unchanged."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.config import runner


class Command(BaseCommand):
    help = "Print the current configuration as YAML."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(runner.dump(runner.export()), ending="")
