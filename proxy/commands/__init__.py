"""Subcommands of `v1proxy`, one module each."""
