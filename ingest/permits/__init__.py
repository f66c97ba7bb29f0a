"""Discharge permits from the permit platform API (docs/permit-api.md)."""
