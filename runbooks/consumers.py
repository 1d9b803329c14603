"""The run page's websocket: one group per run (drills have no incident to listen to)."""

from __future__ import annotations

from channels.db import database_sync_to_async

from incidents.consumers import CLOSE_NOT_FOUND, ResponderConsumer
from runbooks.models import Run
from runbooks.services.runs import run_group


@database_sync_to_async
def _run_exists(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id).exists()


class RunConsumer(ResponderConsumer):
    def group_name(self) -> str:
        return run_group(int(self.scope["url_route"]["kwargs"]["run_id"]))

    async def extra_check(self) -> int | None:
        return None if await _run_exists(int(self.scope["url_route"]["kwargs"]["run_id"])) else CLOSE_NOT_FOUND
