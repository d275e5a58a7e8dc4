"""Face data the proxy keeps that v3 cannot: SQLite first, behind an interface."""
