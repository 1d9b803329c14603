"""The status the public sees is the one its latest public update set (as on
Statuspage), the same on the page, the incident page, the JSON and the feeds;
resolving a public incident says so in public and moves it to the past days,
on open pages too."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

from incidents.models import PublicUpdate
from incidents.public import rebuild, store
from incidents.services import incident_change_status, incident_post_update
from portal.tests.factories import declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db


def public_views(client: Any, incident_id: int) -> dict[str, str]:
    rebuild.rebuild()
    page = client.get("/status/").content.decode()
    block = re.search(rf'data-incident-id="{incident_id}".*?data-field="status">(\w+)<', page, re.S)
    detail = client.get(f"/status/incidents/{incident_id}/").content.decode()
    summary = client.get("/api/v2/incidents.json").json()
    feed = html.unescape(client.get("/status/feed.atom").content.decode())
    return {
        "page": block.group(1) if block else "",
        "incident page": present(re.search(r'data-field="status">(\w+)<', detail)).group(1),
        "json": next(i["status"] for i in summary["incidents"] if i["id"] == str(incident_id)),
        "feed": "Identified" if "Identified</strong>" in feed else "Investigating" if "Investigating</strong>" in feed else "",
    }


def test_a_status_change_without_an_update_does_not_change_what_the_public_sees(client: Any, cast: Any, snapshot_dir: Any) -> None:
    incident = declare(by=cast.owner, title="Checkout errors", visibility="public", impacts={cast.service: "partial_outage"})
    incident_post_update(incident=incident, body="We are looking into it.", by=cast.owner)
    incident_change_status(incident=incident, status="identified", by=cast.owner)
    seen = public_views(client, incident.pk)
    assert seen == {"page": "Investigating", "incident page": "Investigating", "json": "investigating", "feed": "Investigating"}

    incident_post_update(incident=incident, body="We found the cause.", status="monitoring", by=cast.owner)
    seen = public_views(client, incident.pk)
    assert seen["page"] == seen["incident page"] == "Monitoring" and seen["json"] == "monitoring"


def test_a_public_incident_without_updates_is_investigating_in_public(client: Any, cast: Any, snapshot_dir: Any) -> None:
    incident = declare(by=cast.owner, title="Checkout errors", visibility="public", impacts={cast.service: "partial_outage"})
    incident_change_status(incident=incident, status="monitoring", by=cast.owner)
    seen = public_views(client, incident.pk)
    assert seen["page"] == seen["incident page"] == "Investigating" and seen["json"] == "investigating"


def test_resolving_a_public_incident_posts_a_resolution_and_moves_it_to_the_past_live(client: Any, cast: Any, snapshot_dir: Any) -> None:
    incident = declare(by=cast.owner, title="Checkout errors", visibility="public", impacts={cast.service: "partial_outage"})
    incident_post_update(incident=incident, body="We are looking into it.", by=cast.owner)
    rebuild.rebuild()
    before = present(store.current())
    assert f'data-incident-id="{incident.pk}"' in before.live["html"]["incidents"]

    incident_change_status(incident=incident, status="resolved", by=cast.owner)
    latest = PublicUpdate.objects.filter(incident=incident).latest("id")
    assert (latest.status, latest.body) == ("resolved", "This incident has been resolved.")
    rebuild.rebuild()
    live = present(store.current()).live
    assert f'data-incident-id="{incident.pk}"' not in live["html"]["incidents"]
    past = live["html"]["past"]
    assert re.search(rf'/status/incidents/{incident.pk}/">Checkout errors</a> <span class="muted">Resolved<', past)
    assert "datetime=" in live["html"]["updated"] and live["html"]["updated"] != before.live["html"]["updated"]
    resolved = client.get("/api/v2/incidents.json").json()["incidents"][0]
    assert resolved["status"] == "resolved" and resolved["incident_updates"][0]["body"] == "This incident has been resolved."
    # Posting the resolution by hand posts it once.
    other = declare(by=cast.owner, title="Search is slow", visibility="public")
    incident_post_update(incident=other, body="Fixed.", status="resolved", by=cast.owner)
    assert list(PublicUpdate.objects.filter(incident=other).values_list("body", flat=True)) == ["Fixed."]
    # Reopening says so too; an internal incident posts nothing.
    incident_change_status(incident=incident, status="investigating", by=cast.owner, reason="It is back")
    assert PublicUpdate.objects.filter(incident=incident).latest("id").body == "We are investigating this issue again."
    internal = declare(by=cast.owner, title="Internal thing")
    incident_change_status(incident=internal, status="resolved", by=cast.owner)
    assert not PublicUpdate.objects.filter(incident=internal).exists()
    json.dumps(live)  # the live message stays JSON
