"""Tasks of the incident core."""

from __future__ import annotations

from portal.celery import app


@app.task(name="incidents.materialise_maintenance_recurrences", ignore_result=True)
def materialise_maintenance_recurrences() -> int:
    """Create the windows of recurring maintenance within each horizon; safe to run
    twice (one window per recurrence and start, a database constraint)."""
    from incidents.services.recurrence import maintenance_recurrences_materialise_all

    return maintenance_recurrences_materialise_all()
