"""The v3 → v1 error map: the shipped YAML (proxy/data, loaded by proxy.config) + operator overrides, fallback 213."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from proxy.domain.codes import V1_CODES, default_message

V1_ERROR_CODES = frozenset(code for code in V1_CODES if code != 0)
"""Every v1 error code (seed 002_ §3, plus -1313 from 000_/003_ and 24 from 003_): what a rule may map to."""

_ENTRY_KEYS = frozenset({"v1", "why", "message"})
_FALLBACK_KEYS = frozenset({"code"})


class ErrorMapError(ValueError):
    """The error map (file or overrides) is invalid; the message names the offending path."""


@dataclass(frozen=True)
class V1Code:
    """A v1 error answer: code and message."""

    code: int
    message: str


@dataclass(frozen=True)
class ErrorRule:
    """How one v3 code maps: the v1 code, an optional fixed message, and why (documentation)."""

    v1: int
    message: str | None = None
    why: str | None = None


def _v1_code(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ErrorMapError(f"{where}: expected an integer v1 code, got {value!r}")
    if value not in V1_ERROR_CODES:
        raise ErrorMapError(f"{where}: unknown v1 code {value} (not in the v1 error code table)")
    return value


def _optional_str(value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ErrorMapError(f"{where}: expected a string, got {value!r}")


def _rule(value: object, where: str) -> ErrorRule:
    if isinstance(value, int) and not isinstance(value, bool):
        return ErrorRule(_v1_code(value, where))
    if not isinstance(value, Mapping):
        raise ErrorMapError(f"{where}: expected a v1 code or a mapping {{v1, message, why}}, got {value!r}")
    unknown = sorted(str(k) for k in value if k not in _ENTRY_KEYS)
    if unknown:
        raise ErrorMapError(f"{where}: unknown key(s) {', '.join(unknown)} (expected v1, message, why)")
    if "v1" not in value:
        raise ErrorMapError(f"{where}.v1: missing (the v1 code this v3 code maps to)")
    return ErrorRule(
        v1=_v1_code(value["v1"], f"{where}.v1"),
        message=_optional_str(value.get("message"), f"{where}.message"),
        why=_optional_str(value.get("why"), f"{where}.why"),
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (a silently repeated code is a data bug)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ErrorMapError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


class ErrorMap:
    """v3 error code → v1 code and message; codes it does not know fall back (213 by default)."""

    def __init__(self, rules: Mapping[str, ErrorRule], fallback: ErrorRule) -> None:
        self._rules: Mapping[str, ErrorRule] = MappingProxyType(dict(rules))
        self._fallback = fallback

    @classmethod
    def from_yaml(cls, text: str) -> ErrorMap:
        """Parse the error-map file format (see config/v3_errors.yaml); ErrorMapError if invalid."""
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ErrorMapError(f"error map is not valid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise ErrorMapError(f"error map: expected a mapping at the top level, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in {"version", "fallback", "codes"})
        if unknown:
            raise ErrorMapError(f"error map: unknown key(s) {', '.join(unknown)} (expected version, fallback, codes)")
        if data.get("version") != 1:
            raise ErrorMapError(f"version: expected 1, got {data.get('version')!r}")
        fallback_data = data.get("fallback", {"code": 213})
        if not isinstance(fallback_data, Mapping) or set(fallback_data) - _FALLBACK_KEYS:
            raise ErrorMapError(f"fallback: expected a mapping {{code: <v1 code>}}, got {fallback_data!r}")
        fallback = ErrorRule(v1=_v1_code(fallback_data.get("code"), "fallback.code"))
        codes = data.get("codes")
        if not isinstance(codes, Mapping) or not codes:
            raise ErrorMapError(f"codes: expected a non-empty mapping of v3 code -> rule, got {codes!r}")
        rules: dict[str, ErrorRule] = {}
        for code, value in codes.items():
            if not isinstance(code, str) or not code:
                raise ErrorMapError(f"codes: expected v3 error codes (strings) as keys, got {code!r}")
            rules[code] = _rule(value, f"codes.{code}")
        return cls(rules, fallback)

    def merged(self, overrides: Mapping[str, int | Mapping[str, Any]]) -> ErrorMap:
        """A copy with operator overrides applied: ``code: v1`` or ``code: {v1, message}``."""
        rules = dict(self._rules)
        for code, value in overrides.items():
            if not isinstance(code, str) or not code:
                raise ErrorMapError(f"errors.overrides: expected v3 error codes as keys, got {code!r}")
            rules[code] = _rule(value, f"errors.overrides.{code}")
        return ErrorMap(rules, self._fallback)

    def to_v1(self, v3_code: str, v3_message: str = "") -> V1Code:
        """The v1 answer for a v3 error; unknown codes give the fallback with ``v3 <code>: <message>``."""
        rule = self._rules.get(v3_code)
        if rule is not None:
            return V1Code(rule.v1, rule.message or default_message(rule.v1))
        message = f"v3 {v3_code}: {v3_message}" if v3_message else f"v3 {v3_code}"
        return V1Code(self._fallback.v1, message)

    def rule(self, v3_code: str) -> ErrorRule | None:
        """The rule for ``v3_code`` (None when it would fall back)."""
        return self._rules.get(v3_code)

    def codes(self) -> frozenset[str]:
        """Every v3 code with an explicit rule."""
        return frozenset(self._rules)
