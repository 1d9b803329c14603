"""How an alert becomes an incident (flow 1 of ARCHITECTURE.md), stage by stage.

A sender (Alertmanager, PagerDuty, a generic JSON sender, or the health probes
as an internal Generic JSON source) posts to a receiver:

1. receive (`receive.py`, with the kind's `<kind>/views.py`): authenticate the
   token (or signature), rate-limit, validate with the kind's parser, store the raw
   body as a `Delivery`, answer 2xx, and after commit enqueue the task
   `integrations.process_delivery` by name. A beat sweeper re-enqueues deliveries
   left pending while Redis or the workers were down.
2. the worker (`tasks.py` → `process.py`) claims the delivery and walks it through:
3. decide (`decide.py`): the kind's adapter parses the body into `Signal`s, each
   with its fingerprint (one alert row per fingerprint) and group key (one open
   incident per group key); the routing rules pick declare or record, services and
   impact; the severity mapping picks the severity; `transition` decides what each
   signal does to its alert's current state.
4. apply (`apply.py`, `plan.py`): per group, lock the alerts, insert the new ones
   in one statement, gather each transition into a `Plan`, write it set-based.
5. attach (`attach.py`): open, reopen or append to the group's incident, put each
   firing and acknowledgement on its timeline, resolve it (or move it to
   monitoring) when every alert of the group has resolved.
6. settle (`settle.py`): the delivery is marked processed, left pending with its
   error for a retry, failed after MAX_ATTEMPTS, or marked duplicate.

After commit the incident services' domain events do the rest: live pages,
status snapshot, paging.

What is specific to a kind lives in its directory, behind one `Adapter`
(`adapter.py`), listed in `registry.py`; a new source is one new directory.
"""

from __future__ import annotations
