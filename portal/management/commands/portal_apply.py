"""`manage.py portal_apply FILE [--dry-run] [--prune]`: show the plan of a
configuration document, then apply it in one transaction."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.config import runner


class Command(BaseCommand):
    help = "Apply a configuration document (YAML or JSON; '-' reads standard input). Prints the plan first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Show the plan; change nothing.")
        parser.add_argument("--prune", action="store_true", help="Delete objects of the listed sections the document does not name.")
        parser.add_argument("--json", action="store_true", help="Print the plan as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        source = sys.stdin.read() if options["file"] == "-" else _read(options["file"])
        try:
            result = runner.run(runner.load(source), dry_run=options["dry_run"], prune=options["prune"])
        except runner.DocumentInvalid as exc:
            raise CommandError("The document is not valid; nothing was applied:\n" + "\n".join(f"  {e}" for e in exc.errors)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, default=str))
            return
        for change in result.changes:
            self.stdout.write(f"{ {'create': '+', 'update': '~', 'delete': '-'}[change.action]} {change.section} {change.key}")
            for name, values in change.fields.items():
                self.stdout.write(f"    {name}: {json.dumps(values['from'], default=str)} -> {json.dumps(values['to'], default=str)}")
        counts = result.as_dict()["summary"]
        verb = "Applied" if result.applied else "Plan (dry run, nothing changed)"
        self.stdout.write(f"{verb}: {counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete.")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
