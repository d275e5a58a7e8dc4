"""Issue 10 item 3: each manifest's memory limit covers the proxy's measured peak at its configured body budget.

README "Memory": peak RSS ~ idle (~100 MB) + 4 x limits.body_budget_bytes (bench --phase abuse: 1,110 MB
at the 256 MiB default). The 512Mi gateway limit with the default budget was below the proxy's own peak.
"""

from __future__ import annotations

import pytest

from proxy.settings import Limits
from tests.deploy.test_manifests import proxy_container, raw_config

IDLE_BYTES = 100 * 2**20
PER_BUDGET_BYTE = 4
HEADROOM_BYTES = 64 * 2**20
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(text: str) -> int:
    for suffix, factor in UNITS.items():
        if text.endswith(suffix):
            return int(text.removesuffix(suffix)) * factor
    return int(text)


@pytest.mark.parametrize("mode", ["sidecar", "gateway"])
def test_memory_limit_covers_the_peak_at_the_configured_budget(mode: str) -> None:
    limits = Limits.model_validate(raw_config(mode).get("limits", {}))
    peak = IDLE_BYTES + PER_BUDGET_BYTE * limits.body_budget_bytes
    limit = quantity(proxy_container(mode)["resources"]["limits"]["memory"])
    assert limit >= peak + HEADROOM_BYTES, (mode, limit // 2**20, peak // 2**20)
