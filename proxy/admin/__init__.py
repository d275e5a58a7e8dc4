"""The operators' side of the proxy: metrics, health and readiness, reload, on a separate listener."""
