"""Every setting is proven to take effect through a running server, or named here as a known gap.

A new key in proxy.settings fails this test until it is added to PROVEN (with the test that changes
behaviour through a running proxy by setting it) or, honestly, to GAPS (with why it has none yet).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from proxy.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EFFECT = "tests/test_settings_take_effect.py"
LOOP = "tests/ops/test_event_loop_setting.py::test_listen_event_loop_setting_picks_the_loop_serve_runs_on"
RELOAD = "tests/ops/test_reload.py::test_sighup_adds_a_tenant_and_refuses_a_broken_file"
SDK = "tests/e2e/test_legacy_sdk.py"
ENROL = f"{SDK}::test_newperson_with_file_creates_every_group_and_reports_exact_v1_fields"
KEYS = f"{SDK}::test_wrong_secret_key_is_14_and_unknown_appid_is_10"
GUARD = "tests/v1/test_inbound_guard.py"
STAGED = "tests/migration/test_staged_sessions.py"
TLS = "tests/ops/test_logs_and_tls.py::test_tls_termination_with_the_legacy_sdk_over_https"
JOURNAL = "tests/ops/test_journal_consistency.py::test_store_equals_v3_after_faults_a_sigkill_and_reconciliation"
LOGS = "tests/ops/test_logs_and_tls.py::test_logs_carry_the_request_id_and_no_secret_signature_or_image"
FLEET = "tests/limits/test_fleet.py"
UPSTREAM = "tests/v3/test_upstream_settings.py"
QUOTA = "tests/limits/test_quota_settings.py"
REDIS = "tests/limits/test_redis_settings.py"
JOURNAL_SETTINGS = "tests/handlers/test_journal_settings.py"
OUTBOX = "tests/migration/test_outbox_settings.py"
STORE = "tests/store/test_store_server_settings.py"
# shadow.ready_* are read by the `v1proxy report` command, not by the serving proxy: proven through that command
READY = "tests/report/test_report.py::test_the_readiness_rule_is_the_configured_one"

SHADOW = "tests/migration/test_shadow_e2e.py"
SHADOW_REPORT = f"{SHADOW}::test_report_figures_of_a_shadowed_tenant_match_the_tests_own_count"
SHADOW_CALIBRATE = f"{SHADOW}::test_calibrate_points_beat_far_matched_on_held_out_pairs_and_apply_by_reload"
SHADOW_BUDGET = f"{SHADOW}::test_sample_percent_and_the_calls_per_second_cap_hold_back_twins"

PROVEN: dict[str, str] = {
    "shadow.sample_percent": SHADOW_BUDGET,
    "shadow.tenants.sample_percent": SHADOW_BUDGET,
    "shadow.max_calls_per_s": SHADOW_BUDGET,
    "shadow.noise_percent": SHADOW_CALIBRATE,  # 100 in the report test (every read replayed), 0 here (none)
    "shadow.pairs_kept": SHADOW_REPORT,
    "shadow.disagreements_kept": SHADOW_CALIBRATE,
    "listen.host": LOOP,
    "listen.port": LOOP,
    "listen.event_loop": LOOP,
    "admin.host": RELOAD,
    "admin.port": RELOAD,
    "admin.upstream_check_s": "tests/admin/test_admin.py::test_readyz_upstream_check_is_cached",
    "tls.cert_file": TLS,
    "tls.key_file": TLS,
    "drain.grace_s": "tests/ops/test_drain.py::test_sigterm_lets_a_write_in_flight_finish",
    "upstream.endpoint": ENROL,
    "upstream.secret_id": ENROL,
    "upstream.secret_key": ENROL,
    "upstream.read_timeout": f"{GUARD}::test_upstream_deadline_cuts_a_trickling_v3",
    "upstream.deadline_s": f"{GUARD}::test_upstream_deadline_cuts_a_trickling_v3",
    "upstream.region": f"{UPSTREAM}::test_upstream_region_is_the_region_v3_is_asked_in",
    "upstream.token": f"{UPSTREAM}::test_upstream_token_is_sent_with_temporary_credentials",
    "upstream.connect_timeout": f"{UPSTREAM}::test_upstream_connect_timeout_bounds_a_handshake_that_never_completes",
    "upstream.pool_size": f"{UPSTREAM}::test_upstream_pool_size_caps_the_connections_to_v3",
    "tenants.appid": KEYS,
    "tenants.legacy_keys.secret_id": KEYS,
    "tenants.legacy_keys.secret_key": KEYS,
    "tenants.isolated": f"{EFFECT}::test_tenants_isolated_false_keeps_clean_v3_ids",
    "auth.max_signature_validity_s": f"{EFFECT}::test_auth_max_signature_validity_refuses_longer_signatures",
    "auth.single_use_window_s": f"{EFFECT}::test_auth_single_use_window_bounds_a_single_use_signatures_age",
    "limits.max_body_bytes": "tests/e2e/test_bad_input.py::test_body_over_the_limit_is_23_without_being_read",
    "limits.max_fields": f"{EFFECT}::test_limits_max_fields_is_the_limit_the_route_applies",
    "limits.header_timeout_s": f"{GUARD}::test_header_timeout_cuts_a_slowloris",
    "limits.keepalive_timeout_s": f"{GUARD}::test_idle_keepalive_timeout_closes_quiet_connections",
    "limits.body_min_rate_bytes_s": f"{GUARD}::test_a_stalled_body_is_cut_at_the_minimum_rate",
    "limits.body_grace_s": f"{GUARD}::test_a_stalled_body_is_cut_at_the_minimum_rate",
    "limits.body_timeout_s": f"{GUARD}::test_a_body_slower_than_the_body_timeout_is_cut",
    "limits.max_connections": f"{GUARD}::test_connection_cap_answers_503_beyond_it",
    "limits.body_budget_bytes": f"{GUARD}::test_body_budget_waits_then_answers_15",
    "limits.body_budget_wait_s": f"{GUARD}::test_body_budget_waits_then_answers_15",
    "limits.max_inflight_per_tenant": f"{GUARD}::test_per_tenant_cap_keeps_other_tenants_served",
    "store.url": RELOAD,
    "store.pool_min": "tests/store/test_postgres_servers.py::test_postgres_restart_under_traffic",
    "store.pool_max": "tests/store/test_postgres_servers.py::test_postgres_restart_under_traffic",
    "store.password": f"{STORE}::test_store_password_opens_a_server_that_asks_for_one",
    "store.connect_timeout_s": f"{STORE}::test_store_connect_timeout_s_bounds_a_handshake_that_never_completes",
    "store.command_timeout_s": f"{STORE}::test_store_command_timeout_s_bounds_a_statement_the_server_holds",
    "journal.settle_after_s": JOURNAL,
    "journal.lease_s": JOURNAL,
    "journal.sweep_interval_s": JOURNAL,
    "journal.retry_max_s": JOURNAL,
    "faces.capture_attributes": "tests/e2e/test_capture_off.py::test_attribute_capture_switch",
    "scores.calibration": f"{EFFECT}::test_scores_calibration_identity_answers_v3s_score",
    "scores.match_threshold": f"{EFFECT}::test_scores_match_threshold_decides_ismatch",
    "scores.tenants.calibration": f"{EFFECT}::test_scores_tenants_give_each_tenant_its_own_points_and_threshold",
    "scores.tenants.match_threshold": f"{EFFECT}::test_scores_tenants_give_each_tenant_its_own_points_and_threshold",
    "errors.overrides": f"{EFFECT}::test_errors_overrides_change_the_v1_code_answered",
    "migration.tenants.route": f"{STAGED}::test_canary_splits_subjects_and_writes_reach_both",
    "migration.tenants.ops": f"{STAGED}::test_an_op_can_stay_behind_on_its_own_route",
    "migration.tenants.retire_v1": f"{STAGED}::test_v3_feeds_v1_until_retire_v1",
    "migration.legacy.endpoint": f"{STAGED}::test_v1_route_is_a_verbatim_passthrough",
    "migration.outbox.lease_s": "tests/migration/test_outbox_crash.py::test_outbox_survives_sigkill_mid_burst",
    "migration.default_route": f"{STAGED}::test_default_route_applies_to_tenants_not_listed",
    "migration.legacy.read_timeout": f"{STAGED}::test_legacy_read_timeout_bounds_a_slow_v1",
    "migration.outbox.max_attempts": f"{STAGED}::test_outbox_gives_up_after_max_attempts",
    "limits.quota_groups": f"{FLEET}::test_quota_holds_across_four_processes_and_200_clients",
    "limits.quota_wait_ms": f"{FLEET}::test_quota_holds_across_four_processes_and_200_clients",
    "limits.replay_capacity_per_tenant": f"{FLEET}::test_one_tenant_filling_its_replay_table_never_refuses_another",
    "redis.url": f"{FLEET}::test_a_single_use_signature_is_accepted_once_by_the_whole_fleet",
    "redis.key_prefix": f"{FLEET}::test_a_single_use_signature_is_accepted_once_by_the_whole_fleet",
    "redis.timeout_ms": f"{FLEET}::test_redis_down_refuses_single_use_signatures_with_108",
    "limits.quota_qps": f"{QUOTA}::test_limits_quota_qps_is_every_groups_rate",
    "limits.quota_burst": f"{QUOTA}::test_limits_quota_burst_is_how_many_calls_go_at_once",
    "redis.password": f"{REDIS}::test_redis_password_right_is_served_wrong_fails_closed_with_108",
    "redis.cooldown_ms": f"{REDIS}::test_redis_cooldown_ms_is_how_long_redis_is_left_alone_after_a_failure",
    "journal.keep_done_s": f"{JOURNAL_SETTINGS}::test_journal_keep_done_s_is_how_long_settled_entries_are_kept",
    "migration.legacy.connect_timeout": f"{OUTBOX}::test_legacy_connect_timeout_cuts_a_handshake_that_never_completes",
    "migration.outbox.batch": f"{OUTBOX}::test_outbox_batch_is_how_many_due_entries_a_replayer_takes_at_once",
    "migration.outbox.poll_s": f"{OUTBOX}::test_outbox_poll_s_is_how_often_an_idle_replayer_looks_for_due_entries",
    "migration.outbox.retry_base_s": f"{OUTBOX}::test_outbox_retry_base_s_spaces_the_first_retries",
    "migration.outbox.retry_max_s": f"{OUTBOX}::test_outbox_retry_max_s_caps_the_backoff",
    "shadow.ready_agreement_percent": READY,
    "shadow.ready_min_comparisons": READY,
    "logging.format": LOGS,
    "logging.level": LOGS,
}

# none today: a setting that cannot be proven through a running server yet is named here with why
GAPS: dict[str, str] = {}


def leaves(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf setting's dotted path (lists of models contribute their fields)."""
    for name, info in model.model_fields.items():
        nested = None
        for arg in typing.get_args(info.annotation) or (info.annotation,):
            candidates = typing.get_args(arg) if typing.get_origin(arg) is tuple else (arg,)
            nested = nested or next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nested is not None:
            yield from leaves(nested, f"{prefix}{name}.")
        else:
            yield prefix + name


def test_every_setting_is_proven_through_a_server_or_named_as_a_gap() -> None:
    settings = set(leaves(Settings))
    assert not set(PROVEN) & set(GAPS)
    assert sorted(settings - set(PROVEN) - set(GAPS)) == [], "a new setting: prove it takes effect (or name the gap)"
    assert sorted((set(PROVEN) | set(GAPS)) - settings) == [], "gone from proxy.settings"


def test_every_proof_named_exists() -> None:
    for setting, node in PROVEN.items():
        path, _, name = node.partition("::")
        text = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", text, re.M), f"{setting}: no {node}"
