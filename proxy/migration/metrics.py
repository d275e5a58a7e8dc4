"""The staged migration's metrics, in the proxy's registry: requests by route and side, redirects, fallbacks, outbox."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from proxy.migration.routes import Kind, Reason, Side


class MigrationMetrics:
    """Counters per tenant x op x route; outbox depth and age per target backend."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.routed = Counter(
            "v1proxy_migration_requests",
            "v1 requests by tenant, op, route, the side that answered and why",
            ("tenant", "op", "route", "side", "reason"),
            registry=r,
        )
        self.redirects = Counter(
            "v1proxy_migration_data_aware_redirects",
            "requests the route sent to v3 but answered by v1 because their subject is not known in v3",
            ("tenant", "op"),
            registry=r,
        )
        self.fallbacks = Counter(
            "v1proxy_migration_fallbacks",
            "canary reads answered by v1 after v3 failed with a transport or 5xx-class error",
            ("tenant", "op"),
            registry=r,
        )
        self.shadow = Counter(
            "v1proxy_migration_shadow_calls",
            "background v3 calls of shadowed reads, by outcome (ok / v1 code / error)",
            ("tenant", "op", "outcome"),
            registry=r,
        )
        self.legacy_unreachable = Counter(
            "v1proxy_migration_legacy_unreachable", "requests the legacy backend did not answer", ("op",), registry=r
        )
        self.outbox_enqueued = Counter(
            "v1proxy_outbox_enqueued", "writes owed to the other backend", ("target", "op"), registry=r
        )
        self.outbox_done = Counter(
            "v1proxy_outbox_replayed",
            "outbox replays by target and result (applied / retry / failed)",
            ("target", "result"),
            registry=r,
        )
        self.outbox_depth = Gauge("v1proxy_outbox_depth", "open outbox entries", registry=r)
        self.outbox_age = Gauge("v1proxy_outbox_oldest_age_seconds", "age of the oldest open outbox entry", registry=r)
        self.outbox_depth.set(0)
        self.outbox_age.set(0)

    def observe_route(self, tenant: str, op: str, route: Kind, side: Side, reason: Reason) -> None:
        self.routed.labels(tenant=tenant, op=op, route=route.value, side=side.value, reason=reason.value).inc()
        if reason is Reason.NOT_IN_V3:
            self.redirects.labels(tenant=tenant, op=op).inc()
