"""The catalog UI in a real browser (Debian's Chromium, Playwright), against a catalog fed by real pipeline runs
(``scenario``): the lineage graph, a click on a node, schema-history diffs, the PII map with actions, the quarantine's
counts and what a replay made of each event, the job's runs, search, login with a wrong token, and ``/docs`` with
nothing fetched from outside.

Every page is saved as a PNG (``var/ui-screenshots/``; ``make catalog-screenshots`` refreshes
``docs/screenshots/``, shown in the README and docs/lineage.md). Conditions are awaited with Playwright's
``expect`` (auto-retrying), never with sleeps.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.catalog.ui import scenario
from tests.catalog.ui.conftest import Ui
from tests.fixtures.lineage import TOKEN
from tests.fixtures.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.kafka

expect.set_options(timeout=DEADLINE_SECONDS * 1000)  # auto-retrying: a deadline for a loaded machine


def _open(ui: Ui, page: Page, path: str) -> None:
    response = page.goto(f"{ui.url}{path}")
    assert response is not None and response.status == 200, f"{path}: {response.status if response else None}"


def _graph_ready(page: Page) -> None:
    expect(page.locator("#graph")).to_have_attribute("data-ready", "true")


def _assert_time_axis_is_readable(page: Page, chart: str, points: str) -> None:
    """The uPlot chart ``#<chart>`` (its instance is the element's ``uplot``, charts.js) draws its time axis over at
    least a minute and under an hour around the points of the JSON in ``#<points>`` (epoch seconds ``t``): this
    scenario's events land within seconds, and a lone instant must not stretch the axis over years (uPlot pads one to
    1000 days)."""
    expect(page.locator(f"#{chart}")).to_have_attribute("data-ready", "true")
    low, high, ts = page.evaluate(
        """([chart, points]) => {
             const x = document.getElementById(chart).uplot.scales.x;
             const data = JSON.parse(document.getElementById(points).textContent);
             return [x.min, x.max, (Array.isArray(data) ? data : data.points).map((p) => p.t)];
           }""",
        [chart, points],
    )
    assert ts, f"#{points} has no points"
    assert 60 <= high - low < 3600, f"#{chart}'s time axis spans {high - low} s: {low}..{high} for points at {ts}"
    assert low <= min(ts) and max(ts) <= high, f"#{chart}'s time axis {low}..{high} leaves out points at {ts}"


def _assert_bars_stand_on_zero(page: Page, chart: str) -> None:
    """The count axis of the bar chart ``#<chart>`` starts at 0 (uPlot's auto range starts near the smallest bar)."""
    low, high = page.evaluate("(chart) => [document.getElementById(chart).uplot.scales.y.min, "
                              "document.getElementById(chart).uplot.scales.y.max]", chart)
    assert low == 0 and high >= 1, f"#{chart}'s count axis is {low}..{high}"


def _assert_bars_stack(page: Page, chart: str, points: str) -> None:
    """The bar chart ``#<chart>`` stacks its series (one per violation type) instead of drawing each from zero over
    the others: at each point of ``#<points>``, the rectangles drawn (charts.js records them) are one per type with
    a count there, disjoint, as tall together as the point's total, and each shows its own series' colour on the
    canvas."""
    expect(page.locator(f"#{chart}")).to_have_attribute("data-ready", "true")
    drawn = page.evaluate(
        """([chart, points]) => {
             const el = document.getElementById(chart), u = el.uplot;
             const counts = JSON.parse(document.getElementById(points).textContent).points.map((p) => p.byType);
             const colour = (si) => { const f = u.series[si].fill; return typeof f === "function" ? f(u, si) : f; };
             const zero = u.valToPos(0, "y", true);
             return {
               counts,
               labels: u.series.map((s) => s.label),
               totals: counts.map((c) => zero - u.valToPos(Object.values(c).reduce((a, b) => a + b, 0), "y", true)),
               bars: el.bars.filter((b) => b.height > 0).map((b) => ({ ...b, colour: colour(b.series),
                 pixel: Array.from(u.ctx.getImageData(b.left + b.width / 2, b.top + b.height / 2, 1, 1).data) })),
             };
           }""",
        [chart, points],
    )
    assert any(len(c) > 1 for c in drawn["counts"]), f"#{points}: no point with two types to stack: {drawn['counts']}"
    for point, counts in enumerate(drawn["counts"]):
        bars = sorted((b for b in drawn["bars"] if b["point"] == point), key=lambda b: b["top"])
        assert sorted(drawn["labels"][b["series"]] for b in bars) == sorted(t for t, n in counts.items() if n), bars
        for upper, lower in zip(bars, bars[1:], strict=False):
            assert upper["top"] + upper["height"] <= lower["top"], f"#{chart} point {point}: bars overlap: {bars}"
        assert abs(sum(b["height"] for b in bars) - drawn["totals"][point]) <= len(bars), (bars, drawn["totals"])
        for bar in bars:
            rgb = [int(bar["colour"][i:i + 2], 16) for i in (1, 3, 5)]
            assert bar["pixel"] == [*rgb, 255], f"#{chart} point {point}: {bar} is covered by another series"


def _edges(page: Page) -> set[tuple[str, str, str, str]]:
    """(origin kind, origin id, destination kind, destination id) of every edge the graph draws."""
    edges = page.evaluate(
        """() => window.catalogGraph.edges().map((e) => [e.source().data('kind'), e.source().id(),
                                                          e.target().data('kind'), e.target().id()])"""
    )
    return {tuple(e) for e in edges}


def test_a_wrong_token_is_refused(ui: Ui) -> None:
    page = ui.context.new_page()
    ui.context.clear_cookies()
    try:
        page.goto(f"{ui.url}/lineage")
        expect(page).to_have_url(f"{ui.url}/login?next=%2Flineage")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        ui.screenshot(page, "login")
        page.get_by_label("API token").fill("not-the-token")
        with page.expect_response(f"{ui.url}/login") as answer:
            page.get_by_role("button", name="Log in").click()
        assert answer.value.status == 401
        expect(page.get_by_role("alert")).to_have_text("wrong API token")
        assert not ui.context.cookies(ui.url), "a refused login must not leave a session"
        assert page.request.get(f"{ui.url}/ui/graph.json").status == 401
        page.goto(f"{ui.url}/pii")
        expect(page).to_have_url(re.compile(r"/login\?next="))

        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{ui.url}/pii")  # back where it was going, logged in
        cookie = next(c for c in ui.context.cookies(ui.url) if c["name"] == "catalog_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        # the session opens the pages, not the API: that still wants the token as a Bearer header
        assert page.request.get(f"{ui.url}/api/v1/catalog/search?q=x").status == 401
    finally:
        page.close()
    logs = "".join(p.read_text() for p in ui.catalog.workdir.glob("catalog-*.log"))
    assert TOKEN not in logs and "not-the-token" not in logs


def test_lineage_graph_shows_topic_job_table_and_quarantine(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/lineage?node={quote(fed.orders_topic)}&depth=2&direction=down")
    _graph_ready(page)
    edges = _edges(page)
    assert ("TOPIC", fed.orders_topic, "JOB", fed.orders_job) in edges
    assert ("JOB", fed.orders_job, "TABLE", fed.orders_table) in edges
    assert ("JOB", fed.orders_job, "QUARANTINE", fed.orders_quarantine) in edges
    pii = page.evaluate("() => window.catalogGraph.nodes('[?pii]').map((n) => n.id())")
    assert fed.orders_table in pii and fed.orders_topic in pii  # email and ip are tagged
    expect(page.locator("#edge-list li[data-origin=TOPIC][data-destination=JOB]")).to_have_count(1)
    ui.screenshot(page, "lineage")

    # a real click on the table's node, where Cytoscape drew it on the canvas
    box = page.locator("#graph").bounding_box()
    assert box is not None
    at = page.evaluate("(id) => window.catalogGraph.getElementById(id).renderedPosition()", fed.orders_table)
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    expect(page).to_have_url(f"{ui.url}/dataset?id={quote(fed.orders_table, safe='')}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("orders")


def test_whole_graph_and_column_lineage(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, "/lineage")
    _graph_ready(page)
    jobs = page.evaluate("() => window.catalogGraph.nodes('[kind = \"JOB\"]').map((n) => n.id())")
    assert {fed.orders_job, fed.clicks_job, fed.frozen_job} <= set(jobs)

    _open(ui, page, f"/lineage?node={quote(fed.orders_table)}")
    _graph_ready(page)
    page.get_by_label("column").select_option("email")
    expect(page.locator("#column-path")).to_contain_text("column lineage of email")
    expect(page.locator("#column-path")).to_contain_text("email → ")
    lit = page.evaluate("() => window.catalogGraph.nodes('.column').map((n) => n.id())")
    assert set(lit) == {fed.orders_topic, fed.orders_table}


def test_schema_history_diff_shows_an_added_column_and_a_breaking_change(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/dataset?id={quote(fed.clicks_table)}")
    evolved = page.locator("#diff tr[data-column=referrer]")
    expect(evolved).to_have_class("diff-added")
    expect(evolved.locator(".status")).to_have_text("added")
    expect(page.locator("#diff h3")).to_contain_text("compatible")
    expect(page.locator("#versions")).to_contain_text("+referrer")
    expect(page.locator("#versions .origin-inferred")).to_have_count(1)  # evolve's version is an inferred one
    ui.screenshot(page, "dataset-evolved")

    _open(ui, page, f"/dataset?id={quote(fed.orders_topic)}")
    removed = page.locator("#diff tr[data-column=coupon]")
    expect(removed).to_have_class("diff-removed")
    expect(removed.locator(".status")).to_have_text("removed (breaking)")
    expect(page.locator("#diff h3 .breaking")).to_have_text("breaking")
    ui.screenshot(page, "schema-history-breaking")


def test_dataset_page_schema_tags_actions_and_loads(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/dataset?id={quote(fed.orders_table)}")
    schema = page.locator("#schema")
    expect(schema.locator("tr", has=page.locator("code", has_text=re.compile("^email$")))).to_contain_text("mask")
    expect(schema.locator("tr.dropped")).to_contain_text("ip")
    expect(schema.locator("tr.dropped .action-drop")).to_have_text("drop")
    expect(page.locator("#loads-table")).to_contain_text(re.compile(r"\[1\]: \d+\.\.\d+"))  # partition 1's offsets
    _assert_time_axis_is_readable(page, "throughput-chart", "series")
    ui.screenshot(page, "dataset")


def test_pii_map_lists_tagged_columns_with_their_actions(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, "/pii")

    def row(dataset: str, column: str):  # noqa: ANN202
        return page.locator(f"#pii-map tr[data-dataset='{dataset}'][data-column='{column}']")

    expect(row(fed.orders_table, "email").locator(".action-cell")).to_have_text("mask")
    expect(row(fed.orders_table, "email")).to_contain_text("pii:email")
    expect(row(fed.orders_table, "ip").locator(".action-cell")).to_have_text("drop")
    expect(row(fed.orders_table, "ip")).to_contain_text("not landed")
    expect(row(fed.orders_topic, "email")).to_contain_text("email (orders)")  # flows to the table's column
    expect(row(fed.orders_quarantine, "raw_text")).to_contain_text("pii:email")
    ui.screenshot(page, "pii-map")


def test_quarantine_view_counts_and_redacted_samples(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/quarantine?id={quote(fed.orders_table)}")
    expect(page.locator("#lake-rows")).to_have_text(str(scenario.QUARANTINED))
    expect(page.locator("#from-loads")).to_have_text(str(scenario.QUARANTINED))
    expect(page.locator("#by-type tr[data-type=greater_than_equal] .count")).to_have_text(str(scenario.BAD_AMOUNTS))
    expect(page.locator("#by-type tr[data-type=literal_error] .count")).to_have_text(str(scenario.BAD_CURRENCIES))
    expect(page.locator("#by-type tr[data-type=json_invalid] .count")).to_have_text(str(scenario.MALFORMED))
    expect(page.locator("#by-field tr[data-field=amount] .count")).to_have_text(str(scenario.BAD_AMOUNTS))
    expect(page.locator("#by-field tr[data-field=currency] .count")).to_have_text(str(scenario.BAD_CURRENCIES))
    expect(page.locator("#samples tbody tr")).to_have_count(scenario.QUARANTINED)
    _assert_time_axis_is_readable(page, "violations-chart", "violations")  # the points are a second or so apart
    _assert_bars_stand_on_zero(page, "violations-chart")
    # the contract masks email and drops ip: the samples show what the quarantine keeps, never the raw values
    samples = page.locator("#samples").inner_text()
    assert "b***@example.com" in samples
    assert "buyer100@example.com" not in page.content() and "10.0.0.100" not in page.content()
    ui.screenshot(page, "quarantine")


def test_quarantine_view_shows_what_the_replay_made_of_each_event(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/quarantine?id={quote(fed.payments_table)}")
    states = page.locator("#states")
    expect(states.locator("[data-state=open] .count")).to_have_text(str(scenario.OPEN))
    expect(states.locator("[data-state=replayed] .count")).to_have_text(str(scenario.REPLAYED))
    expect(states.locator("[data-state=still_failing] .count")).to_have_text(str(scenario.STILL_FAILING))
    expect(page.locator("#no-replay")).to_have_count(0)
    replay = page.locator("#replays tbody tr")
    expect(replay).to_have_count(1)
    expect(replay.locator("td").nth(2)).to_have_text("v2")
    expect(replay.locator(".replayed")).to_have_text(str(scenario.REPLAYED))
    expect(replay.locator(".still-failing")).to_have_text(str(scenario.STILL_FAILING))
    table_url = f"/dataset?id={quote(fed.payments_table, safe='')}"
    job_url = f"/job?id={quote(fed.payments_replay_job, safe='')}"
    expect(replay.get_by_role("link", name="payments")).to_have_attribute("href", table_url)
    expect(replay.locator("a").first).to_have_attribute("href", job_url)
    still = page.locator("#still-failing-by-type tr[data-type=greater_than_equal] .count")
    expect(still).to_have_text(str(scenario.STILL_FAILING))

    samples = page.locator("#samples tbody tr")
    expect(samples.and_(page.locator("[data-state=replayed]"))).to_have_count(scenario.REPLAYED)
    expect(samples.and_(page.locator("[data-state=open]"))).to_have_count(scenario.OPEN)
    failing = samples.and_(page.locator("[data-state=still_failing]"))
    expect(failing).to_have_count(scenario.STILL_FAILING)
    for row in failing.all():
        expect(row.locator(".resolution")).to_contain_text("still failing")
        expect(row.locator(".resolution")).to_contain_text("under v2")
        expect(row.locator(".resolution")).to_contain_text("greater_than_equal")
    replayed = samples.and_(page.locator("[data-state=replayed]"))
    for row in replayed.all():
        expect(row.locator(".resolution")).to_contain_text("into payments")
    _assert_time_axis_is_readable(page, "violations-chart", "violations")  # every violation at one instant
    _assert_bars_stand_on_zero(page, "violations-chart")
    _assert_bars_stack(page, "violations-chart", "violations")  # three types at that instant
    ui.screenshot(page, "quarantine-replayed")

    # the JSON API says the same, event by event
    answer = page.request.get(
        f"{ui.url}/api/v1/catalog/quarantine",
        params={"dataset": fed.payments_table},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status == 200
    lake = answer.json()["lake"]
    assert lake["states"] == {
        "open": scenario.OPEN,
        "still_failing": scenario.STILL_FAILING,
        "replayed": scenario.REPLAYED,
        "value_discarded": 0,
    }
    (load,) = lake["resolutions"]["replays"]
    assert (load["contractVersion"], load["replayed"]) == (2, scenario.REPLAYED)
    assert load["stillFailing"] == scenario.STILL_FAILING
    assert (load["tableId"], load["jobId"]) == (fed.payments_table, fed.payments_replay_job)
    by_type: dict[str, set[str]] = {}
    for sample in lake["samples"]:
        kind = "malformed" if sample["disposition"] == "malformed" else sample["violations"][0]["type"]
        by_type.setdefault(kind, set()).add(sample["state"])
        assert (sample["resolution"] or {}).get("status") == (None if sample["state"] == "open" else sample["state"])
    assert by_type == {"literal_error": {"replayed"}, "greater_than_equal": {"still_failing"}, "malformed": {"open"}}


def test_quarantine_view_of_a_table_never_replayed_says_so(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/quarantine?id={quote(fed.orders_table)}")
    expect(page.locator("#no-replay")).to_contain_text("No replay has run on this quarantine yet")
    expect(page.locator("#no-replay code.location")).to_have_text(str(fed.lake / "orders__quarantine_resolutions"))
    expect(page.locator("#states [data-state=open] .count")).to_have_text(str(scenario.QUARANTINED))
    expect(page.locator("#samples tbody tr[data-state=open]")).to_have_count(scenario.QUARANTINED)
    expect(page.locator("#replays")).to_have_count(0)
    expect(page.locator(".error")).to_have_count(0)


def test_job_page_runs_events_and_failures(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/job?id={quote(fed.orders_job)}")
    runs = page.locator("#runs tr[data-run]")
    expect(runs).to_have_count(2)
    first_run = runs.nth(1)  # newest first: the v1 run that landed everything
    expect(first_run.locator(".state")).to_have_text("COMPLETE")
    loads = int(first_run.locator("td").nth(5).inner_text())
    assert loads > 1
    expect(first_run).to_contain_text(f"RUNNING × {loads}")  # one RUNNING event per load
    first_run.get_by_role("button", name="events").click()
    expect(page.locator(".run-events .facet")).to_have_count(loads)
    ui.screenshot(page, "job")

    _open(ui, page, f"/job?id={quote(fed.frozen_job)}")
    expect(page.locator("#runs .state-fail")).to_have_text("FAIL")
    expect(page.locator("#runs .failure .error-message")).to_contain_text("ContractStopError")


def test_search_by_tag_and_field_and_the_home_page(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, "/")
    expect(page.locator("#growing")).to_contain_text("orders")
    expect(page.locator("#recent-loads tbody tr").first).to_be_visible()
    ui.screenshot(page, "home")
    page.get_by_label("search by").select_option("tag")
    page.get_by_label("search", exact=True).fill("email")
    results = page.locator("#search-results")
    expect(results.get_by_role("link", name="orders", exact=True)).to_be_visible()
    expect(results).to_contain_text("email: pii:email")
    expect(page).to_have_url(re.compile(r"/search\?q=email&by=tag"))
    page.get_by_label("search by").select_option("field")
    page.get_by_label("search", exact=True).fill("referrer")
    expect(results.get_by_role("link", name="clicks", exact=True)).to_be_visible()
    expect(results.locator("tbody tr")).to_have_count(1)
    assert fed.clicks_table


def test_api_docs_are_served_without_a_cdn(ui: Ui, page: Page) -> None:
    _open(ui, page, "/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("streamproc catalog")
    expect(page.get_by_text("/api/v1/lineage").first).to_be_visible()
    assert not ui.outside, f"requests that would have left the machine: {ui.outside}"


def test_routed_table_is_its_own_dataset(ui: Ui, page: Page) -> None:
    fed = ui.fed
    _open(ui, page, f"/lineage?node={quote(fed.orders_job)}&depth=1")
    _graph_ready(page)
    assert ("JOB", fed.orders_job, "TABLE", fed.refunds_table) in _edges(page)
    response = page.goto(f"{ui.url}/dataset?id={quote(fed.refunds_table)}")
    assert response is not None and response.status == 200
    expect(page.locator("#loads-table tbody tr").first).to_contain_text("ui_refunds v1")
    _open(ui, page, f"/dataset?id={quote(fed.orders_table)}")
    expect(page.locator("#loads-table")).not_to_contain_text("ui_refunds")
