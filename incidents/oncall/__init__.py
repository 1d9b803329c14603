"""On-call: schedules (who is on call when), escalation policies, paging state and timers."""
