"""Outbound v3 client: TC3 signing and pooled calls. Never imports proxy.v1."""
