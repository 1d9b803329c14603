"""Notifications: channels (email, Slack, Teams, signed webhook, PagerDuty Events v2) and the delivery log."""
