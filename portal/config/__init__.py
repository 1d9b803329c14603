"""Configuration as code: one document, a plan, one transaction (flow 7 of ARCHITECTURE.md)."""
