"""Errors the emulator answers with: each carries its v3 error code and message."""

from __future__ import annotations


class EmulatorError(Exception):
    """A v3 error reply: `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`."""

    code: str = "InternalError"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def missing_parameter(name: str) -> EmulatorError:
    return EmulatorError("MissingParameter", f"The request is missing a required parameter `{name}`.")


def invalid_parameter(name: str, expected: str) -> EmulatorError:
    return EmulatorError("InvalidParameter", f"The parameter `{name}` must be {expected}.")


def invalid_value(code_suffix: str, message: str) -> EmulatorError:
    return EmulatorError(f"InvalidParameterValue.{code_suffix}", message)


def failed(code_suffix: str, message: str) -> EmulatorError:
    return EmulatorError(f"FailedOperation.{code_suffix}", message)
