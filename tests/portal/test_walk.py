"""The first walk-through of a new user, automated on the demo shop (`seed_demo`, generated data): every demo login
signs in through the form in headless Chromium and visits every page it can reach by following same-origin links
from the navigation and from the pages themselves (bounded: a few pages per URL shape). Every page must log no
console error, every link, stylesheet, script and image it names must answer neither 404 nor a server error,
axe-core must find no serious or critical violation (in the light and the dark colour scheme), and at 390 px wide
the page itself must not scroll sideways.

With CARTPORTAL_TOUR=1 the walk also saves a 1280x800 screenshot of every tab (the first demo login that is shown the
tab) as docs/tour/<login>-<tab>.jpg, the pictures of the README's demo tour."""

from __future__ import annotations

import os
import re
from collections import Counter
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse

from cartportal.demo import DEMO_PASSWORD
from tests.portal.test_journeys import chromium  # noqa: F401  (the module's Chromium, reused)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TOUR = ROOT / "docs" / "tour"
LOGINS = ["manager_de", "executive", "compliance", "analyst", "manager_uk"]
PAGES_PER_SHAPE = 2  # /campaigns/1/ and /campaigns/2/ stand for every campaign
PAGES_PER_LOGIN = 80
# Never followed: leaving the session, the admin site (not part of the portal's walk) and the API's own JSON.
NOT_FOLLOWED = re.compile(r"^/(accounts/logout|admin/|api/v1/(?!docs/))|[?&]format=")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)"),
]

LINKS_JS = """() => [...document.querySelectorAll('a[href], link[href], script[src], img[src]')]
    .map(e => ({url: e.href || e.src, follow: e.tagName === 'A' && !e.hasAttribute('download')}))"""
AXE_JS = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"""
# Every series colour of every drawn chart against the background it is drawn on: at least 3:1 (WCAG 1.4.11).
CHART_CONTRAST_JS = """() => {
  if (typeof Chart === 'undefined') return [];
  const probe = document.createElement('canvas').getContext('2d');
  const rgb = (c) => { probe.fillStyle = '#000'; probe.fillStyle = c; const v = probe.fillStyle;
    if (v.startsWith('#')) return [1, 3, 5].map(i => parseInt(v.slice(i, i + 2), 16));
    return v.match(/[\\d.]+/g).slice(0, 3).map(Number); };
  const lum = (c) => { const [r, g, b] = rgb(c).map(x => x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backdrop = (el) => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0)')) return c; } return '#ffffff'; };
  const found = [];
  for (const chart of Object.values(Chart.instances)) {
    const bg = backdrop(chart.canvas);
    chart.data.datasets.forEach((d) => {
      for (const colour of [d.backgroundColor, d.borderColor].flat()) {
        if (typeof colour === 'string' && ratio(colour, bg) < 3)
          found.push((chart.canvas.id || 'chart') + ': ' + (d.label || '') + ' ' + colour + ' on ' + bg + ' '
            + ratio(colour, bg).toFixed(2) + ':1');
      }
    });
  }
  return found;
}"""
OVERFLOW_JS = """() => document.documentElement.scrollWidth > window.innerWidth
    ? document.documentElement.scrollWidth + ' px: ' + [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll, table.data'))
        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).join(', ')
    : ''"""


@pytest.fixture
def demo_shop(chromium, transactional_db):  # noqa: F811
    call_command("seed_demo", "--data-dir=", stdout=StringIO())


def _shape(path: str) -> str:
    """/campaigns/12/?page=2 and /campaigns/7/?page=3 have one shape: /campaigns/N/?page."""
    parts = urlsplit(path)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return re.sub(r"\d+", "N", parts.path) + ("?" + "&".join(keys) if keys else "")


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class Walk:
    """One login's walk: the pages visited and everything found wrong on them."""

    def __init__(self, browser, base: str, login: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.add_init_script(path=str(AXE))  # in the test's browser only: the portal never serves it
        self.context.set_default_timeout(600_000)  # a tab that fits a model on its first load, on a busy machine
        self.context.set_default_navigation_timeout(600_000)
        self.page = self.context.new_page()
        self.base, self.login = base, login
        self.problems: list[str] = []
        self.statuses: dict[str, int] = {}
        self.current = ""
        self.page.on("console", lambda m: self._console(m))
        self.page.on("pageerror", lambda e: self.problems.append(f"{self.current}: page error: {e}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"{self.current}: console error: {message.text}")

    def sign_in(self) -> None:
        self.current = reverse("login")
        self.page.goto(self.base + self.current)
        self.page.fill("#id_username", self.login)
        self.page.fill("#id_password", DEMO_PASSWORD)
        self.page.click("form button[type=submit]")
        self.page.wait_for_load_state("load")
        assert urlsplit(self.page.url).path == "/", f"{self.login} did not reach the overview"

    def tabs(self) -> dict[str, str]:
        links = self.page.locator("nav[aria-label=Main] a")
        return {links.nth(i).inner_text(): links.nth(i).get_attribute("href") for i in range(links.count())}

    def visit(self, path: str) -> list[dict]:
        self.current = path
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        if response is None or response.status >= 400:
            self.problems.append(f"{path}: answered {response.status if response else 'nothing'}")
            return []
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)
            for violation in self.page.evaluate(AXE_JS):
                self.problems.append(f"{path}: axe ({scheme}): {violation}")
            for faint in self.page.evaluate(CHART_CONTRAST_JS):
                self.problems.append(f"{path}: chart colour ({scheme}): {faint}")
        self.page.emulate_media(color_scheme="light")
        self.page.set_viewport_size({"width": 390, "height": 844})
        if overflow := self.page.evaluate(OVERFLOW_JS):
            self.problems.append(f"{path}: overflows at 390 px: {overflow}")
        self.page.set_viewport_size({"width": 1280, "height": 800})
        return self.page.evaluate(LINKS_JS)

    def check_link(self, url: str) -> None:
        if url in self.statuses:
            return
        response = self.context.request.get(url, max_redirects=5, timeout=600_000)
        self.statuses[url] = response.status
        if response.status == 404 or response.status >= 500:
            self.problems.append(f"{self.current}: link {url} answered {response.status}")

    def screenshot(self, label: str) -> None:
        TOUR.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(TOUR / f"{self.login}-{_slug(label)}.jpg"), type="jpeg", quality=70)


def _walk(walk: Walk, tour: set[str] | None) -> list[str]:
    origin = urlsplit(walk.base).netloc
    queue = list(walk.tabs().values())
    labels = {href: label for label, href in walk.tabs().items()}
    seen, shapes = set(queue), Counter()
    visited = []
    while queue and len(visited) < PAGES_PER_LOGIN:
        path = queue.pop(0)
        shapes[_shape(path)] += 1
        visited.append(path)
        links = walk.visit(path)
        if tour is not None and path in labels and labels[path] not in tour:
            tour.add(labels[path])
            walk.screenshot(labels[path])
        for link in links:
            url = urlsplit(link["url"])
            if url.scheme not in ("http", "https") or url.netloc != origin:
                continue
            walk.check_link(url._replace(fragment="").geturl())
            target = url.path + (f"?{url.query}" if url.query else "")
            if not link["follow"] or NOT_FOLLOWED.search(target) or target in seen:
                continue
            seen.add(target)
            if shapes[_shape(target)] + sum(_shape(q) == _shape(target) for q in queue) < PAGES_PER_SHAPE:
                queue.append(target)
    return visited


def test_every_demo_login_walks_every_reachable_page_cleanly(demo_shop, chromium, live_server):  # noqa: F811
    tour = set() if os.environ.get("CARTPORTAL_TOUR") == "1" else None
    problems, visited = [], {}
    for login in LOGINS:
        walk = Walk(chromium, live_server.url, login)
        try:
            walk.sign_in()
            visited[login] = _walk(walk, tour)
        finally:
            walk.context.close()
        problems += [f"{login} {p}" for p in walk.problems]
        assert len(walk.statuses) > 20, (login, "found too few links to have walked the portal")
    assert problems == [], "\n".join(problems)
    # the walk reached past the tabs: detail pages of campaigns, jobs and sessions were opened and checked
    everything = {_shape(p) for pages in visited.values() for p in pages}
    assert {"/interventions/campaigns/N/", "/jobs/N/"} <= everything, sorted(everything)
    assert reverse("portal:audit") in visited["compliance"] and reverse("portal:audit") not in visited["manager_de"]
