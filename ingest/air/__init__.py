"""Ambient air: the national real-time release (day files and station list)."""
