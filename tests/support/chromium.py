"""Headless Chromium for the tests that look at a page as a person sees it: installed from apt
when missing (CI is a root Debian machine with apt reachable), then used to print a page to PDF
(its visible text) and to take a screenshot (its pixels)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path

import pytest

# chromium itself, and one font so text renders (the slim Debian images have none)
APT_PACKAGES = ("chromium", "fonts-dejavu-core")
# another apt (a second test session, unattended upgrades) may hold dpkg's lock for a while
_APT = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_chromium() -> tuple[str, float]:
    """The Chromium binary and the seconds spent installing it (0 when it was there). Installs
    with apt-get as root; anywhere else a missing Chromium fails the test with what to run."""
    found = find_chromium()
    if found:
        return found, 0.0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            "Chromium is needed to render the brief and is not installed; this user cannot "
            f"install it: run `sudo apt-get install -y {' '.join(APT_PACKAGES)}`",
            pytrace=False,
        )
    started = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        [*_APT, "update"],
        [*_APT, "install", "-y", "--no-install-recommends", *APT_PACKAGES],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-3000:]}",
                pytrace=False,
            )
    found = find_chromium()
    if not found:
        pytest.fail(f"apt-get installed {APT_PACKAGES} but no chromium is on PATH", pytrace=False)
    return found, time.monotonic() - started


def run_headless(chromium: str, url: str, *flags: str, timeout: float = 120.0) -> None:
    """One headless Chromium run on `url` with its own throw-away profile (so runs in parallel
    never share one), no network beyond the page's own file."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--force-device-scale-factor=1", f"--user-data-dir={profile}", *flags, url],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}")


def print_to_pdf(chromium: str, page: Path, pdf: Path) -> Path:
    run_headless(chromium, page.resolve().as_uri(), "--no-pdf-header-footer",
                 f"--print-to-pdf={pdf}")  # fmt: skip
    assert pdf.exists() and pdf.stat().st_size > 0, f"chromium wrote no PDF for {page}"
    return pdf


def screenshot(chromium: str, page: Path, png: Path, size: tuple[int, int]) -> Path:
    run_headless(chromium, page.resolve().as_uri(), f"--window-size={size[0]},{size[1]}",
                 f"--screenshot={png}")  # fmt: skip
    assert png.exists() and png.stat().st_size > 0, f"chromium wrote no screenshot of {page}"
    return png


def pdf_text(pdf: Path) -> str:
    """The text a reader of the printed page sees (pypdf), ligatures (fi, ffi) as letters and
    whitespace folded to single spaces."""
    from pypdf import PdfReader

    text = " ".join(page.extract_text() or "" for page in PdfReader(str(pdf)).pages)
    return " ".join(unicodedata.normalize("NFKC", text).split())
