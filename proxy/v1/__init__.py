"""Inbound v1 wire: parsing, legacy signature, rendering. Never imports proxy.v3."""
