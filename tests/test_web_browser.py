"""The staff page in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, installed by
bootstrap.sh; never `playwright install`) against `casefile web` on the demo's data.

A person signs in with the keyboard, finds the demo case by the client's name, downloads the packet (its SHA-256
checked against the build's manifest), uploads a phone photo, starts a build and watches it finish; a staff user
tries what only advocates may do. Screenshots of the main pages, at desktop and phone width, are saved under
tests/artifacts/screenshots/ (not in git) for a person to look at.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import CLIENT_NAME, run_cli

from casefile.tasks.demo.scenario import DEMO_DHS_ADDRESS, DEMO_DHS_OFFICE

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.prefect, pytest.mark.tesseract, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
STAFF_PASSWORD = "staff passphrase for the browser"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Iterator[dict[str, Any]]:
    """`casefile demo` on a fresh home, a staff user made with `casefile user add`, then `casefile web`."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run ./bootstrap.sh setup (it installs chromium and chromium-driver)")
    root = tmp_path_factory.mktemp("wb")  # short: the OCR pool's socket lives under the home (AF_UNIX limit)
    home = root / "h"
    demo = run_cli("demo", "--json", home=home, timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)
    add = subprocess.run(
        [str(Path(sys.executable).with_name("casefile")), "user", "add", "sam.staff", "--role", "staff",
         "--password-stdin", "--json"],
        input=STAFF_PASSWORD + "\n", capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CASEFILE_HOME": str(home)},
    )  # fmt: skip
    assert add.returncode == 0 and json.loads(add.stdout)["role"] == "staff", add.stderr
    listed = run_cli("user", "list", "--json", home=home)
    assert {u["name"] for u in json.loads(listed.stdout)} == {"demo-admin", "sam.staff"}

    port = _free_port()
    log = root / "web.log"
    exe = Path(sys.executable).with_name("casefile")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "web", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=root, env={**os.environ, "CASEFILE_HOME": str(home)},
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < end, log.read_text()[-3000:]
            time.sleep(0.3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield {"base": base, "home": home, "demo": result, "log": log, "root": root}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    access = log.read_text(errors="replace")
    assert CLIENT_NAME not in access and "Quiroga" not in access  # no client data in the server's log


@pytest.fixture
def browser(demo_site: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        contexts: list[Any] = []

        def open_context(viewport: ViewportSize, phone: bool = False) -> Any:
            profile = tmp_path / f"profile-{len(contexts)}"  # a fresh --user-data-dir for every context
            context = p.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=ARGS,
                viewport=viewport,
                is_mobile=phone,
                has_touch=phone,
                accept_downloads=True,
                locale="en-US",
            )
            contexts.append(context)
            return context

        yield open_context
        for context in contexts:
            context.close()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _sign_in_with_the_keyboard(page: Any, base: str, user: str, password: str) -> None:
    page.goto(base + "/")
    assert page.url.endswith("/signin")
    page.keyboard.press("Tab")  # the first stop is the skip link; it leads past the header to the form
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "name"
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == base + "/", page.content()[-2000:]


def _wait_finished(page: Any, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while page.locator('meta[http-equiv="refresh"]').count() and time.monotonic() < end:
        page.wait_for_timeout(1000)
        page.reload()
    assert page.locator(".state-completed").count() == 1, page.content()[-3000:]


def test_an_advocate_finds_downloads_uploads_and_builds(
    demo_site: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    base, demo = demo_site["base"], demo_site["demo"]
    case_id = demo["case"]["id"]
    build_id = demo["packet"]["build_id"]
    page = browser(DESKTOP).new_page()
    page.goto(base + "/signin")
    _shot(page, "desktop-signin")
    _sign_in_with_the_keyboard(page, base, demo["web"]["user"], demo["web"]["password"])
    _shot(page, "desktop-home")

    page.fill("#q", "quiroga")
    page.keyboard.press("Enter")
    page.wait_for_selector("#found-cases")
    _shot(page, "desktop-search")
    page.click(f'a[href="/cases/{case_id}"]')
    page.wait_for_url(f"{base}/cases/{case_id}")
    assert page.locator("h1").inner_text().startswith(CLIENT_NAME)
    readiness = page.inner_text("section[aria-labelledby=readiness]")
    assert "Ready to file?" in readiness and "The demo's fictional case" in readiness
    last = demo["supplemental"]["build_id"]  # the demo's supplemental filing: with the first, every exhibit
    assert f"The last build {last} is current." in readiness
    _shot(page, "desktop-case")

    manifest_path = demo_site["home"] / "objects" / "packets" / case_id / build_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    with page.expect_download() as info:
        page.click(f'a[href="/cases/{case_id}/packets/{build_id}/parts/1"]')
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == manifest["outputs"][0]["name"]
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == manifest["outputs"][0]["sha256"]

    photo = _new_photo(tmp_path / "IMG_0042.jpg")
    page.set_input_files("#photo", str(photo))
    page.click("form[action$='/upload'] button[type=submit]")
    page.wait_for_url(f"{base}/cases/{case_id}/jobs/*")
    _shot(page, "desktop-upload-running")
    _wait_finished(page)
    assert "IMG_0042.jpg" in page.inner_text(".files") and "stored" in page.inner_text(".files")
    _shot(page, "desktop-upload-done")

    page.goto(f"{base}/cases/{case_id}")
    page.fill("#service-office", DEMO_DHS_OFFICE)  # the DHS office served, as an advocate types it
    page.fill("#service-address", "\n".join(DEMO_DHS_ADDRESS))
    page.click("form[action$='/builds'] button[type=submit]")
    page.wait_for_url(f"{base}/cases/{case_id}/jobs/*")
    _wait_finished(page)
    page.click("a.primary")  # "Open packet P-..."
    assert page.url.startswith(f"{base}/cases/{case_id}")

    page.goto(base + "/admin/users")
    _shot(page, "desktop-users")
    page.goto(base + "/admin/audit")
    assert "download" in page.inner_text("table")
    _shot(page, "desktop-audit")

    phone = browser(PHONE, phone=True).new_page()
    phone.goto(base + "/signin")
    _shot(phone, "phone-signin")
    _sign_in_with_the_keyboard(phone, base, demo["web"]["user"], demo["web"]["password"])
    _shot(phone, "phone-home")
    phone.goto(f"{base}/cases/{case_id}")
    _shot(phone, "phone-case")
    wide = phone.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391"
        " && !e.closest('.scroll')).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5)"
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, wide  # nothing wider
    assert phone.locator("#photo").get_attribute("capture") == "environment"


def test_staff_cannot_do_what_advocates_do(demo_site: dict[str, Any], browser: Any) -> None:
    base, case_id = demo_site["base"], demo_site["demo"]["case"]["id"]
    page = browser(DESKTOP).new_page()
    _sign_in_with_the_keyboard(page, base, "sam.staff", STAFF_PASSWORD)
    page.goto(f"{base}/cases/{case_id}")
    assert page.locator("form[action$='/upload']").count() == 0 and page.locator("form[action$='/builds']").count() == 0
    token = page.locator("form[action='/signout'] input[name=csrf]").get_attribute("value")
    forbidden = page.request.post(f"{base}/cases/{case_id}/builds", form={"csrf": token or "", "profile": "eoir"})
    assert forbidden.status == 403
    page.goto(f"{base}/admin/users")
    assert "Not allowed" in page.inner_text("main")
    _shot(page, "desktop-forbidden")


def _new_photo(path: Path) -> Path:
    """A phone photo not yet in the case (a letter-like page with a few lines of text)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 1600), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(("Carta de apoyo", "Conozco a la familia desde 2019.", "Firma: Ejemplo Ficticio")):
        draw.text((120, 200 + 90 * i), line, fill="black")
    image.save(path, "JPEG", quality=85)
    return path


def test_screenshots_are_where_the_readme_says(demo_site: dict[str, Any]) -> None:
    assert SCREENSHOTS.is_dir()
    assert shutil.which("chromium") or CHROMIUM.exists()
