"""Staged migration: routes from v1 to v3, shadow comparison, what the report and calibration read."""
