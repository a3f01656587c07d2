"""Playwright driving Debian's chromium (never a downloaded browser), with error collection."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    return path


@dataclasses.dataclass
class PageProblems:
    """Console errors and failed requests seen by a page: a user-visible defect when not empty."""

    console_errors: list[str] = dataclasses.field(default_factory=list)
    failed_requests: list[str] = dataclasses.field(default_factory=list)

    def attach(self, page) -> None:  # noqa: ANN001 (playwright Page)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        page.on("requestfailed", lambda req: self.failed_requests.append(f"{req.method} {req.url}: {req.failure}"))
        page.on(
            "response",
            lambda resp: resp.status >= 400 and resp.request.resource_type in ("stylesheet", "script", "image", "font")
            and self.failed_requests.append(f"{resp.status} {resp.url}"),
        )

    def assert_clean(self) -> None:
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.failed_requests, f"failed asset requests: {self.failed_requests}"


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
