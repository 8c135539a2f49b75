"""The dashboard in a real headless Chromium (selenium): a real `gitbeat serve`, beat and worker on PostgreSQL and RabbitMQ.

One deployment serves the module's tests (starting it takes seconds); each test opens browsers of its own.
Every page visited is also a PNG in the test's tmp_path; with GITBEAT_UPDATE_SCREENSHOTS=1 the schedules
page at desktop width replaces docs/screenshots/schedules.png, the README's picture. Locally a missing
Chromium skips; in CI it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import CI, PROJECT
from tests.integration.cluster import HANDLER, Cluster
from tests.integration.conftest import new_database, rabbitmq_available, wait_until
from tests.unit.test_error_path import free_port

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless as root on a machine without internet: no sandbox, and nothing that reaches out (it stalls on lookups).
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync")
DESKTOP = (1280, 900)
PHONE = (390, 844)
SCREENSHOT = PROJECT / "docs" / "screenshots" / "schedules.png"

TASKS = """
queues:
  work: {}
  billing:
    dead_letter: true
tasks:
  exec.record:
    handler: counting:record
    queue: work
    acks_late: true
  billing.sync:
    handler: counting:broken
    queue: billing
    acks_late: true
"""
SCHEDULES = """
schedules:
  heartbeat:
    task: exec.record
    every: 1s
    args: [heartbeat]
    description: proves the workers answer
  hourly-rollup:
    task: exec.record
    cron: "5 * * * *"
    args: [hourly-rollup]
  sync-invoices:
    task: billing.sync
    every: 3s
    args: [sync-invoices]
    description: pulls invoices from the billing system
  weekly-digest:
    task: exec.record
    cron: "0 8 * * 1"
    timezone: Europe/Berlin
    alert_after: 1s
    args: [weekly-digest]
  cleanup-tmp:
    task: exec.record
    cron: "*/15 * * * *"
    args: [cleanup-tmp]
"""
HEALTH = {"heartbeat": "ok", "hourly-rollup": "ok", "sync-invoices": "failing", "weekly-digest": "stale",
          "cleanup-tmp": "paused"}


def chromium_available() -> None:
    """Skip without Chromium, its driver or selenium, except in CI, where their absence is a failure."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        message = f"no headless browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)


# --- the deployment: a database, RabbitMQ vhost, beat, worker, `gitbeat serve` ------------------------


@contextmanager
def vhost() -> Iterator[str]:
    """A RabbitMQ virtual host for the module (the `rabbitmq_vhost` fixture is per test)."""
    name = f"gitbeat-test-{uuid.uuid4().hex[:10]}"
    try:
        subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as error:
        if CI:
            raise
        pytest.skip(f"cannot add a RabbitMQ vhost ({error})")
    try:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


@dataclass
class Site:
    """A served deployment: its cluster, the dashboard's address and the two tokens (ops operates, reader reads)."""

    cluster: Cluster
    base: str
    tokens: dict[str, str]
    log: Path

    def logs(self) -> str:
        return f"{self.cluster.logs()}\n--- serve\n{self.log.read_text(errors='replace')[-4000:]}"


@contextmanager
def serve(cluster: Cluster, tokens: dict[str, str], meanwhile: Callable[[], object] = lambda: None) -> Iterator[Site]:
    """`gitbeat serve` on a free port, in a process group of its own, killed at the end; `meanwhile` runs while
    it starts."""
    port = free_port()
    log = cluster.project / "serve.txt"
    scopes = {"ops": "operate", "reader": "read"}
    environment = {**cluster.environment(),
                   "GITBEAT_API_TOKENS": ",".join(f"{name}:{secret}:{scopes[name]}" for name, secret in tokens.items())}
    process = subprocess.Popen(
        [sys.executable, "-m", "gitbeat", "serve", "--config", str(cluster.project), "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=cluster.project, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    site = Site(cluster, f"http://127.0.0.1:{port}", tokens, log)
    try:
        meanwhile()
        wait_until(lambda: _answers(f"{site.base}/healthz") or process.poll() is not None, 30, site.logs)
        assert process.poll() is None, site.logs()
        yield site
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The dashboard of a deployment on a database of its own: PostgreSQL, then MariaDB."""
    chromium_available()
    rabbitmq_available()
    root = tmp_path_factory.mktemp("dashboard") / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "counting.py").write_text(HANDLER + "\n\ndef broken(name):\n    raise ValueError('the billing API said 503')\n")
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent(TASKS))
    (root / "schedules" / "s.yaml").write_text(textwrap.dedent(SCHEDULES))
    tokens = {"ops": secrets.token_urlsafe(24)[:32], "reader": secrets.token_urlsafe(24)[:32]}
    with new_database(request.param) as url, vhost() as name:
        cluster = Cluster(root, url, f"amqp://guest:guest@127.0.0.1:5672/{name}", extra={"GITBEAT_AUTHOR": "alice"})
        try:
            cluster.setup()
            cluster.start("beat")
            cluster.start("worker")
            with serve(cluster, tokens, meanwhile=lambda: cluster.gitbeat("pause", "cleanup-tmp", "--note",
                                                                          "disk migration")) as served:
                yield served
        finally:
            cluster.close()


# --- the browser ----------------------------------------------------------------------------------------------


@pytest.fixture
def browser(site: Site, tmp_path: Path) -> Iterator[Callable[..., WebDriver]]:
    """Yields `open(token name, size)`: a new headless Chromium, logged in; every one is quit at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    made: list[WebDriver] = []

    def open_browser(who: str | None = "ops", size: tuple[int, int] = DESKTOP) -> WebDriver:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'profile-{len(made)}'}")
        options.add_argument(f"--window-size={size[0]},{size[1]}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        made.append(driver)
        driver.set_page_load_timeout(30)
        if size[0] < 500:  # headless Chromium's windows are at least 500 px wide: a phone's screen is emulated
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": True})
        if who is not None:
            log_in(driver, site, who)
        return driver

    try:
        yield open_browser
    finally:
        for driver in made:
            driver.quit()


def log_in(driver: WebDriver, site: Site, who: str) -> None:
    """Open the dashboard, land on the login page, and log in with the token named `who`."""
    driver.get(site.base + "/")
    assert urlsplit(driver.current_url).path == "/login", driver.current_url
    driver.find_element("css selector", "input[name=token]").send_keys(site.tokens[who])
    driver.find_element("css selector", "main form button").click()
    wait_until(lambda: urlsplit(driver.current_url).path == "/" and rows(driver), 15, site.logs)


def rows(driver: WebDriver) -> dict[str, str]:
    """The schedules table: name -> health (data-health, which the badge must agree with), read at once."""
    found: list[list[str]] = driver.execute_script("""
        return [...document.querySelectorAll('#schedules tr[data-schedule]')].map(row =>
            [row.dataset.schedule, row.dataset.health, row.querySelector('.health').className]);""")
    for name, health, badge in found:
        assert badge == f"health {health}", (name, health, badge)
    return {name: health for name, health, _ in found}


def text(driver: WebDriver, css: str) -> str:
    """The text of the elements matching `css`, read at once (the page swaps its content every 5 s)."""
    found: str = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent).join('\\n');", css)
    return found


def click(driver: WebDriver, css: str) -> None:
    """Click an element, again if the page's refresh swapped it out between finding and clicking."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(3):
        try:
            driver.find_element("css selector", css).click()
            return
        except StaleElementReferenceException:
            continue
    driver.find_element("css selector", css).click()


def shoot(driver: WebDriver, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), path
    return path


def visit(driver: WebDriver, site: Site, path: str, shots: Path, name: str) -> None:
    """Open a page of the dashboard (a rendered template, not an error) and keep its screenshot."""
    driver.get(site.base + path)
    assert urlsplit(driver.current_url).path == urlsplit(path).path, driver.current_url
    assert driver.find_elements("css selector", "main#content h1"), f"{driver.page_source[:500]}\n{site.logs()}"
    shoot(driver, shots / f"{name}.png")


# --- the tests ------------------------------------------------------------------------------------------------


def test_the_schedules_page_lists_every_schedule_with_its_health_and_filters(
        site: Site, browser: Callable[..., WebDriver], tmp_path: Path) -> None:
    driver = browser(None)
    driver.get(site.base + "/revisions")
    assert urlsplit(driver.current_url).path == "/login" and "next=/revisions" in driver.current_url
    shoot(driver, tmp_path / "login.png")
    driver.find_element("css selector", "input[name=token]").send_keys("not-a-token-of-this-server")
    click(driver, "main form button")
    wait_until(lambda: "failed=1" in driver.current_url and text(driver, "main .error"), 10, lambda: driver.current_url)
    assert text(driver, "main .error") == "That token is not one of this server's."
    driver.find_element("css selector", "input[name=token]").send_keys(site.tokens["ops"])
    click(driver, "main form button")
    wait_until(lambda: urlsplit(driver.current_url).path == "/revisions", 10, lambda: driver.current_url)
    assert "ops (operate)" in text(driver, "header .who")
    click(driver, "header a[href='/']")
    wait_until(lambda: rows(driver), 10, site.logs)

    # The failing and stale schedules get there within seconds (the server's overview refreshes every 2 s); for the
    # README's picture, the last runs shown have finished (a run just sent reads `queued`).
    def settled() -> bool:
        driver.refresh()
        return rows(driver) == HEALTH and driver.execute_script("""
            const last = name => document.querySelector(`tr[data-schedule=${name}]`).cells[4].textContent;
            return last('heartbeat').includes('succeeded') && last('sync-invoices').includes('dead-lettered');""")

    wait_until(settled, 30, lambda: f"{rows(driver)}\n{site.logs()}")
    counts = text(driver, "main > p.muted .health")
    assert "2 ok" in counts and "1 failing" in counts and "1 stale" in counts and "1 paused" in counts
    marks = driver.execute_script("""
        return [...document.querySelectorAll('#timeline .mark')].map(m => [m.title, parseFloat(m.style.left)]);""")
    assert marks, "the 24-hour timeline has no marks"
    assert all(0 <= left <= 100 for _, left in marks), marks
    assert not any(title.startswith("cleanup-tmp ") for title, _ in marks), "a paused schedule has marks"
    assert "disk migration" in text(driver, "tr[data-schedule=cleanup-tmp]")
    assert "ValueError" in driver.find_element(
        "css selector", "tr[data-schedule=sync-invoices] .health").get_attribute("title")
    picture = shoot(driver, tmp_path / "schedules.png")
    assert picture.stat().st_size < 300_000, picture.stat().st_size
    if os.environ.get("GITBEAT_UPDATE_SCREENSHOTS"):  # the README's picture: refreshed on request, not by every run
        shutil.copy(picture, SCREENSHOT)

    # Filter by health with the form's select, then by text (name, task or description).
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", "form.filters select[name=health]")).select_by_value("stale")
    click(driver, "form.filters button")
    wait_until(lambda: "health=stale" in driver.current_url, 10, lambda: driver.current_url)
    assert rows(driver) == {"weekly-digest": "stale"}
    shoot(driver, tmp_path / "schedules-stale.png")
    Select(driver.find_element("css selector", "form.filters select[name=health]")).select_by_value("")
    search = driver.find_element("css selector", "form.filters input[name=q]")
    search.clear()
    search.send_keys("INVOICES")
    click(driver, "form.filters button")
    wait_until(lambda: "q=INVOICES" in driver.current_url, 10, lambda: driver.current_url)
    assert list(rows(driver)) == ["sync-invoices"]  # (its health may read ok while a new run is on its way)
    driver.get(site.base + "/?q=workers+answer")  # a description's words
    assert list(rows(driver)) == ["heartbeat"]
    driver.get(site.base + "/?q=nothing-matches-this")
    assert rows(driver) == {} and "No schedule matches." in text(driver, "#schedules")


def test_run_now_pause_and_resume_from_a_schedules_page_are_audited(
        site: Site, browser: Callable[..., WebDriver], tmp_path: Path) -> None:
    driver = browser("ops")
    click(driver, "tr[data-schedule=heartbeat] a")
    wait_until(lambda: urlsplit(driver.current_url).path == "/schedules/heartbeat", 10, lambda: driver.current_url)
    assert text(driver, "#health") == "ok"
    assert "declared at " in text(driver, "main") and "s.yaml:" in text(driver, "main")
    assert text(driver, "#fires tbody tr td:first-child"), "no next fire times"

    click(driver, "#run-now")
    notice = wait_until(lambda: text(driver, "p.notice"), 10, site.logs)
    assert notice.startswith("run ") and notice.endswith(" sent"), notice
    run_id = notice.split()[1]
    assert driver.find_elements("css selector", f"tr[data-task-id='{run_id}'][data-trigger=manual]")
    # No reload: the page's own refresh (every 5 s) shows the worker's outcome.
    wait_until(lambda: driver.find_elements(
        "css selector", f"tr[data-task-id='{run_id}'][data-trigger=manual][data-state=succeeded]"),
        20, lambda: f"{text(driver, '#runs')}\n{site.logs()}")
    shoot(driver, tmp_path / "schedule.png")

    driver.find_element("css selector", "#actions input[name=note]").send_keys("vendor outage")
    click(driver, "#pause")
    wait_until(lambda: "done=paused" in driver.current_url, 10, lambda: driver.current_url)
    assert text(driver, "#health") == "paused"
    notices = text(driver, "p.notice")
    assert "paused" in notices and "vendor outage" in notices and "ops" in notices, notices
    assert not driver.find_elements("css selector", "#pause") and driver.find_elements("css selector", "#run-now")
    shoot(driver, tmp_path / "schedule-paused.png")
    click(driver, "#resume")
    wait_until(lambda: "done=resumed" in driver.current_url, 10, lambda: driver.current_url)
    assert text(driver, "p.notice") == "resumed"
    assert text(driver, "#health") != "paused" and driver.find_elements("css selector", "#pause")

    visit(driver, site, "/revisions", tmp_path, "revisions")
    assert "revision #1" in text(driver, "#revisions tr.revision")
    actions = [line.split() for line in driver.execute_script("""
        return [...document.querySelectorAll('#revisions tr.action')].map(row =>
            [...row.cells].slice(1, 3).map(cell => cell.textContent.trim()).join(' '));""")]
    for action in ("trigger", "pause", "resume"):
        assert [action, "heartbeat", "ops"] in actions, actions
    assert "vendor outage" in text(driver, "#revisions tr.action")
    assert ["pause", "cleanup-tmp", "alice"] in actions, actions  # the CLI's, too
    assert "alice" in text(driver, "#revisions tr.revision")  # the author of the apply


def test_the_dead_letters_and_processes_pages(site: Site, browser: Callable[..., WebDriver], tmp_path: Path) -> None:
    driver = browser("ops")
    visit(driver, site, "/processes", tmp_path, "processes")
    beats = driver.execute_script("""
        return [...document.querySelectorAll('#beats tbody tr')].map(row => row.cells[1].textContent.trim());""")
    assert beats == ["leader"], beats
    wait_until(lambda: "worker-" in text(driver, "#workers"), 15, lambda: text(driver, "#workers"))

    def lettered() -> str:
        driver.get(site.base + "/dead-letters")
        return "billing.sync" in text(driver, "table.letters") and text(driver, "table.letters")

    letters = wait_until(lettered, 30, lambda: f"{text(driver, 'main')}\n{site.logs()}")
    assert "billing.dlq" in text(driver, "main h2")
    assert "the billing API said 503" in letters, letters
    assert driver.find_elements("css selector", "table.letters button")  # Replay, for an operate token
    shoot(driver, tmp_path / "dead-letters.png")


def test_a_read_token_sees_no_buttons(site: Site, browser: Callable[..., WebDriver], tmp_path: Path) -> None:
    driver = browser("reader")
    assert "reader (read)" in text(driver, "header .who")
    assert set(rows(driver)) == set(HEALTH)
    visit(driver, site, "/schedules/heartbeat", tmp_path, "schedule-read")
    assert text(driver, "h1").startswith("heartbeat")
    assert not driver.find_elements("css selector", "#run-now, #pause, #resume, #actions")
    visit(driver, site, "/dead-letters", tmp_path, "dead-letters-read")
    assert not driver.find_elements("css selector", "table.letters button")


def test_the_timeline_marks_every_schedule_due_within_a_day(site: Site, browser: Callable[..., WebDriver]) -> None:
    driver = browser("ops")
    titles: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#timeline .mark')].map(mark => mark.title);")
    marked = {title.split(" at ")[0] for title in titles}
    assert {"heartbeat", "hourly-rollup", "sync-invoices"} <= marked, sorted(marked)


def on_a_phone(site: Site, browser: Callable[..., WebDriver]) -> WebDriver:
    """A phone-sized browser on the schedules page, once every row shows its settled health."""
    driver = browser("ops", PHONE)
    assert driver.execute_script("return document.documentElement.clientWidth;") == PHONE[0]

    def settled() -> bool:
        driver.refresh()
        return rows(driver) == HEALTH

    wait_until(settled, 30, lambda: f"{rows(driver)}\n{site.logs()}")
    return driver


def test_the_schedules_page_works_at_a_phones_width(
        site: Site, browser: Callable[..., WebDriver], tmp_path: Path) -> None:
    driver = on_a_phone(site, browser)
    shoot(driver, tmp_path / "schedules-phone.png")
    assert driver.find_element("css selector", "#schedules").is_displayed()
    assert driver.find_element("css selector", "#timeline").is_displayed()
    assert not driver.find_element("css selector", "#schedules th.wide").is_displayed()  # Override: hidden
    assert text(driver, "header .who").startswith("ops (operate)")
    click(driver, "tr[data-schedule=sync-invoices] a")
    wait_until(lambda: text(driver, "h1").startswith("sync-invoices"), 10, lambda: driver.current_url)
    assert driver.find_element("css selector", "#run-now").is_displayed()


def test_the_schedules_table_is_no_wider_than_a_phone(site: Site, browser: Callable[..., WebDriver]) -> None:
    driver = on_a_phone(site, browser)

    def measured() -> dict[str, Any] | None:
        """The widths, measured with the widest last run showing (a run just sent reads `queued`, shorter)."""
        driver.refresh()
        found: dict[str, Any] | None = driver.execute_script("""
            const row = document.querySelector('tr[data-schedule=sync-invoices]');
            if (!row || !row.cells[4].textContent.includes('dead-lettered')) return null;
            const table = document.getElementById('schedules').getBoundingClientRect();
            return {page: document.documentElement.scrollWidth, left: table.left, right: table.right};""")
        return found

    widths = wait_until(measured, 20, site.logs)
    assert widths["left"] >= 0 and widths["page"] <= PHONE[0] + 2 and widths["right"] <= PHONE[0] + 2, widths
