"""Limits shared by every worker and replica: the single-use signature replay guard and the upstream quota."""
