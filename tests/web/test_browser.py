"""A participant's first round in a real browser against a real server process.

Headless Chromium (Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``,
driven by selenium; nothing is downloaded) signs up, creates a model and an API
key, uploads predictions for the open round and stakes; then the operator
closes the round and scores its first day, and the pages show the score. Every
page visited is saved as a PNG under ``$CROWDALPHA_ARTIFACTS`` (default
``test-artifacts/screenshots`` at the repository root) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from crowdalpha.server.settings import resolve_server_settings
from crowdalpha.tournament import accounts, ledger, stakes
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.tables import Score, Submission
from tests.helpers.server import Server, make_home, start_server, stop_server, tournament_of
from tests.helpers.web import PASSWORD, database, live_ids, predictions_csv

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
GRANT = "100"

pytestmark = [
    pytest.mark.service,
    pytest.mark.skipif(
        not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
        reason="browser test skipped: needs Debian's chromium and chromium-driver "
        "(/usr/bin/chromium, /usr/bin/chromedriver); apt-get install chromium chromium-driver",
    ),
]


def artifacts_dir() -> Path:
    """Where screenshots go: ``$CROWDALPHA_ARTIFACTS`` or ``test-artifacts/screenshots``."""
    folder = Path(os.environ.get("CROWDALPHA_ARTIFACTS") or REPO / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def live_server(small_dataset: Path, tmp_path: Path) -> Iterator[Server]:
    """A server over a fresh home with round 1 open and a sign-up grant of ``GRANT``."""
    home = make_home(tmp_path / "home", small_dataset)
    tournament_of(home).open_round()
    server = start_server(home, env={"CROWDALPHA_SIGNUP_GRANT": GRANT})
    try:
        yield server
    finally:
        stop_server(server)


class Visit:
    """The browser on one server: open pages, fill forms, and save a screenshot of each page."""

    def __init__(self, driver: WebDriver, server: Server, folder: Path) -> None:
        self.driver, self.server, self.folder = driver, server, folder
        self.shots: list[Path] = []

    def open(self, path: str, shot: str) -> None:
        self.driver.get(self.server.url + path)
        self.check_page()
        self.shoot(shot)

    def check_page(self) -> None:
        """Wait until a page of the site has loaded; it must not be an error of the server."""
        WebDriverWait(self.driver, 30).until(
            lambda driver: driver.title.endswith("· crowdalpha"),
            f"no crowdalpha page at {self.driver.current_url}",
        )
        assert "internal error" not in self.find("main").text

    def shoot(self, name: str) -> Path:
        """Save the whole page (the window grown to its height) as ``name``.png."""
        self.driver.set_window_size(1280, 800)  # measure the page, not the last window
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, max(800, min(int(height) + 120, 6000)))
        path = self.folder / f"{name}.png"
        path.unlink(missing_ok=True)
        assert self.driver.save_screenshot(str(path)), name
        assert path.stat().st_size > 0, name
        self.shots.append(path)
        return path

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text.strip()

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def submit(self, form_css: str) -> None:
        """Click the form's submit button and wait for the page that answers it."""
        old = self.find("html")
        self.find(f"{form_css} button[type=submit]").click()
        WebDriverWait(self.driver, 30).until(lambda _: _replaced(old))
        self.check_page()


def _replaced(element: WebElement) -> bool:
    """True once ``element``'s page has gone. Chromium reports an element that leaves the
    page in the middle of the check as an inspector error rather than a stale element."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


def _shown_score(text: str, value: float) -> None:
    """``text`` is ``value`` rounded to the places it shows."""
    places = len(text.split(".")[1]) if "." in text else 0
    assert abs(float(text) - value) <= 0.5 * 10**-places + 1e-12, (text, value)


def test_a_participants_first_round_in_a_browser(
    browser: WebDriver, live_server: Server, tmp_path: Path
) -> None:
    folder = artifacts_dir()
    visit = Visit(browser, live_server, folder)
    settings = resolve_server_settings(live_server.home, environ={})

    # The public pages, before anyone joins.
    visit.open("/", "home")
    visit.open("/leaderboard", "leaderboard")
    visit.open("/rounds/1", "round")
    visit.open("/meta-model", "meta-model")
    visit.open("/data", "data")

    # Sign up: the account page opens with the operator's grant in the wallet.
    visit.open("/signup", "signup")
    visit.fill("#name", "ada")
    visit.fill("#password", PASSWORD)
    visit.fill("#password_again", PASSWORD)
    visit.submit("#signup-form")
    assert browser.current_url == f"{live_server.url}/account"
    assert visit.text("#nav-account") == "ada"
    assert visit.text("#balance") == GRANT
    assert "0 of 10 models" in visit.text("#model-count")
    visit.shoot("account")

    # A model.
    visit.fill("#new-model-name", "ada_model")
    visit.submit("#create-model")
    assert "model 'ada_model' created" in visit.text("#flash")
    assert "1 of 10 models" in visit.text("#model-count")

    # An API key: its token is shown once, and it works against the server's API.
    visit.submit("#create-key")
    token = visit.text("#new-key-token")
    visit.shoot("account-new-key")
    public_id, secret = token.split("$")
    answer = httpx.post(
        live_server.graphql, json={"query": "{ account { username } }"},
        headers={"Authorization": f"Token {token}"}, timeout=30,
    )
    assert answer.json()["data"]["account"]["username"] == "ada"
    visit.open("/account", "account-keys")
    assert public_id in visit.text("#key-table") and secret not in visit.find("main").text

    # Predictions for the open round, uploaded through the file input.
    csv = tmp_path / "ada_predictions.csv"
    csv.write_bytes(predictions_csv(live_ids(settings, 1), seed=7))
    visit.find("#upload-ada_model input[type=file]").send_keys(str(csv))
    visit.submit("#upload-ada_model")
    flash = visit.text("#flash")
    with database(settings) as session:
        submission = session.scalars(select(Submission)).one()
    assert f"submission {submission.public_id} of model 'ada_model' accepted" in flash
    assert f"{submission.rows} rows" in visit.text("#submission-ada_model")

    # A stake of 25: it leaves the wallet at once.
    visit.fill("#stake-form-ada_model input[name=amount]", "25")
    visit.submit("#stake-form-ada_model")
    assert "raised to 25" in visit.text("#flash")
    assert visit.text("#stake-ada_model") == "25"
    assert visit.text("#balance") == "75"
    visit.shoot("account-staked")
    visit.open("/models/ada_model", "model")

    # The clock moves on: the operator closes the round and scores its first day.
    tournament = tournament_of(live_server.home)
    tournament.close_round(early=True)
    assert tournament.score_next_day(1) is not None
    with database(settings) as session:
        score = session.scalars(select(Score).where(Score.submission_id == submission.id)).one()
        ada = accounts.get_account(session, "ada")
        model = models_mod.get_model(session, "ada_model")
        assert ledger.wallet_balance(session, ada) == Decimal(75)
        assert stakes.stake_now(session, model) == Decimal(25)
    assert score.corr is not None

    visit.open("/models/ada_model", "model-scored")
    _shown_score(visit.text('#model-rounds tr[data-round="1"] td.corr'), score.corr)
    visit.open("/account", "account-scored")
    assert "No round is taking submissions now." in visit.text("#submission-ada_model")
    _shown_score(visit.text("#score-ada_model .corr"), score.corr)
    visit.open("/rounds/1", "round-scored")
    visit.open("/leaderboard", "leaderboard-scored")

    # Sign out, and back in with the password.
    visit.submit("header form")
    assert browser.current_url == f"{live_server.url}/"
    visit.open("/login", "login")
    visit.fill("#name", "ada")
    visit.fill("#password", "not the password")
    visit.submit("#login-form")
    assert visit.text("#error") == "authentication_failed: wrong account name or password"
    visit.fill("#name", "ada")
    visit.fill("#password", PASSWORD)
    visit.submit("#login-form")
    assert browser.current_url == f"{live_server.url}/account"
    visit.shoot("account-signed-in-again")

    expected = {"home", "leaderboard", "round", "model", "meta-model", "data", "signup", "account",
                "login"}
    names = {path.stem for path in visit.shots}
    assert expected <= names
    for path in visit.shots:
        assert path.parent == folder and path.stat().st_size > 1000, path
