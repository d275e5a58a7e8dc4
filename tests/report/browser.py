"""Headless Debian chromium for tests: a screenshot and the rendered DOM of a local page, offline."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The browser binary; `./dev test` installs Debian's chromium when it is missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("chromium is not installed: run ./dev test (it installs Debian's chromium) or apt-get it")


def _run(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="v1proxy-chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2400) -> None:
    done = _run(page, f"--window-size={width},{height}", f"--screenshot={png}")
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium screenshot failed ({done.returncode}): {done.stderr[-2000:]}")


def rendered_dom(page: Path) -> str:
    """The DOM after the browser parsed and laid out the page (what a person would see, as HTML)."""
    done = _run(page, "--dump-dom")
    if done.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout
