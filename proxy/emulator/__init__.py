"""The local stand-in for IAI v3 (2020-03-03): routes, wire, state and rules, a synthetic face model."""
