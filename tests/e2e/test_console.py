"""The console at /console in headless Chromium, against a real server serving examples/orders.

Chromium is Debian's (/usr/bin/chromium, installed by scripts/install-browser.sh, which .ci/run
calls); Playwright drives it through `executable_path` (never `playwright install`). The tests
skip only when that binary is missing. Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from server.auth.identity import Identity
from server.web.console import is_admin
from tests.e2e.auth_world import AuthServer, serve_auth_project
from tests.e2e.conftest import API_KEY, ROOT, Served, copy_project, serve_project

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ORDER_STATES = [
    "Validate", "MarkValidated", "ChargeAndReserve", "Charge", "Reserve", "MarkPaid", "AwaitApproval",
    "Approved?", "Ship", "MarkShipped", "Compensate", "MarkCancelled", "MarkInvalid", "Invalid",
]
CREATE_ORDER = "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id } }"
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def orders(tmp_path: Path) -> AsyncIterator[Served]:
    project = copy_project("orders", tmp_path)
    async for served in serve_project(project):
        yield served


@pytest.fixture
async def page(tmp_path: Path, orders: Served) -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: run scripts/install-browser.sh (CI does)")
    playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright (test extras)")
    async with playwright_api.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROME_ARGS,
            viewport={"width": 1400, "height": 1300},
        )
        try:
            pg = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.console_errors = errors
            yield pg
        finally:
            await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def base(served: Served) -> str:
    return served.running.url.removesuffix("/graphql")


async def sign_in(pg: Any, served: Served, fragment: str) -> None:
    """Open the console, enter the API key in its dialog once, land on `fragment`."""
    await pg.goto(f"{base(served)}/console#{fragment}")
    await pg.wait_for_selector("#login[open]")
    await pg.fill("#login-value", API_KEY)
    await pg.click("#login-submit")
    await pg.wait_for_selector("body[data-ready='1']")


async def until(fn: Any, what: str, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = await fn()
            if value:
                return value
            await asyncio.sleep(0.1)
    raise AssertionError(what)  # pragma: no cover


async def statuses(pg: Any) -> dict[str, str]:
    result: dict[str, str] = await pg.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#graph g.node.state')]"
        ".map(g => [g.dataset.state, g.dataset.status]))"
    )
    return result


async def start_order(served: Served, quantity: int = 1) -> str:
    """createOrder (which triggers `fulfil`) and the new execution's ARN."""
    order = (
        await served.client.ok(
            CREATE_ORDER, {"i": {"customer": "ada", "item": "lamp", "quantity": quantity, "amount": 9.5}}
        )
    )["createOrder"]

    async def arn() -> Any:
        data = await served.client.ok('{ listExecutions(stateMachine: "fulfil") { executions { executionArn } } }')
        rows = [r["executionArn"] for r in data["listExecutions"]["executions"] if order["id"] in r["executionArn"]]
        return rows[0] if rows else None

    found: str = await until(arn, "an execution of fulfil")
    return found


async def test_the_graph_of_orders_renders_with_every_state(page: Any, orders: Served) -> None:
    pg = page
    await sign_in(pg, orders, "/machines/fulfil")
    await pg.wait_for_selector("#graph svg g.node")
    drawn = await pg.evaluate("() => [...document.querySelectorAll('#graph g.node')].map(g => g.dataset.state)")
    for state in ORDER_STATES:
        assert state in drawn, f"{state} missing from the graph: {drawn}"
    # Parallel branches are nested groups, Catch edges are drawn, the definition validates.
    assert await pg.locator("#graph g.node.branch").count() == 2
    assert await pg.locator("#graph polyline.edge.catch").count() == 3
    assert await pg.locator("#graph polyline.edge.choice").count() == 1
    assert await pg.text_content("#validation-result") == "OK"
    # The key was kept: a reload does not ask again.
    await pg.reload()
    await pg.wait_for_selector("#graph svg g.node")
    assert not await pg.locator("#login[open]").count()
    ARTIFACTS.mkdir(exist_ok=True)
    await pg.screenshot(path=str(ARTIFACTS / "console-machine.png"), full_page=True)
    await pg.locator("#graph svg").screenshot(path=str(ARTIFACTS / "console-graph.png"))


async def test_a_live_execution_moves_on_the_page_and_approval_from_the_page_completes_it(
    page: Any, orders: Served
) -> None:
    pg = page
    await sign_in(pg, orders, "/executions?stateMachine=fulfil")
    await pg.wait_for_function("document.body.dataset.live === '1'")
    # Started after the page was opened: the list picks it up over onExecutionStatusChange.
    arn = await start_order(orders)
    link = pg.locator(f"#executions a[href='#/execution/{arn.replace(':', '%3A')}']")
    await link.wait_for(timeout=30_000)
    await pg.evaluate("() => { window.__sameDocument = true; }")
    await link.click()
    await pg.wait_for_selector("#graph svg g.node")
    # The execution reaches the approval task: its node turns WAITING, earlier ones SUCCEEDED.
    await pg.wait_for_selector("#graph g.node.state[data-state='AwaitApproval'][data-status='WAITING']", timeout=30_000)
    seen = await statuses(pg)
    assert seen["Validate"] == "SUCCEEDED" and seen["Charge"] == "SUCCEEDED" and seen["Reserve"] == "SUCCEEDED"
    assert seen["Ship"] == "NOT_STARTED" and seen["MarkInvalid"] == "NOT_STARTED"
    assert await pg.locator("#history tbody tr").count() > 10
    # The history shows each state's input and output.
    validate_exit = pg.locator("#history tbody tr", has_text="TaskStateExited").first
    assert '"validation"' in (await validate_exit.locator("pre.output").text_content() or "")
    ARTIFACTS.mkdir(exist_ok=True)
    await pg.screenshot(path=str(ARTIFACTS / "console-execution-waiting.png"))
    await pg.locator("#graph svg").screenshot(path=str(ARTIFACTS / "console-execution-graph-waiting.png"))

    await pg.click("#pending button.approve[data-state='AwaitApproval']")
    # Live, without a reload: the approval's consequences reach the graph over onExecutionEvent.
    await pg.wait_for_selector("#graph g.node.state[data-state='MarkShipped'][data-status='SUCCEEDED']", timeout=30_000)
    await pg.wait_for_selector("#execution-status:text('SUCCEEDED')", timeout=30_000)
    assert await pg.evaluate("() => window.__sameDocument === true"), "the page reloaded"
    seen = await statuses(pg)
    assert seen["Approved?"] == "SUCCEEDED" and seen["Ship"] == "SUCCEEDED"
    assert seen["Compensate"] == "NOT_STARTED"
    described = await orders.client.ok(
        "query($a: String!) { describeExecution(executionArn: $a) { status output } }", {"a": arn}
    )
    assert described["describeExecution"]["status"] == "SUCCEEDED"
    assert json.loads(described["describeExecution"]["output"])["approval"] == {"approved": True}
    # The history table (read, then grown live) lists every event once, in order.
    history = await orders.client.ok(
        "query($a: String!) { getExecutionHistory(executionArn: $a, limit: 1000) { events { id } } }", {"a": arn}
    )
    expected = [e["id"] for e in history["getExecutionHistory"]["events"]]
    await pg.wait_for_function(f"document.querySelectorAll('#history tbody tr').length === {len(expected)}")
    shown = await pg.evaluate("() => [...document.querySelectorAll('#history tbody tr')].map(r => +r.cells[0].textContent)")
    assert shown == expected
    await pg.locator("#graph svg").screenshot(path=str(ARTIFACTS / "console-execution-graph-succeeded.png"))


async def test_rejecting_from_the_page_compensates(page: Any, orders: Served) -> None:
    pg = page
    arn = await start_order(orders)
    await sign_in(pg, orders, f"/execution/{arn}")
    await pg.wait_for_selector("#pending button.reject[data-state='AwaitApproval']", timeout=30_000)
    await pg.click("#pending button.reject[data-state='AwaitApproval']")
    await pg.wait_for_selector("#graph g.node.state[data-state='MarkCancelled'][data-status='SUCCEEDED']", timeout=30_000)
    seen = await statuses(pg)
    assert seen["AwaitApproval"] == "CAUGHT" and seen["Ship"] == "NOT_STARTED"


async def test_failed_caught_and_stopped_executions_are_colored(page: Any, orders: Served) -> None:
    pg = page
    invalid = await start_order(orders, quantity=0)  # validate_order raises InvalidOrder
    no_stock = await start_order(orders, quantity=500)  # reserve_stock raises OutOfStock
    waiting = await start_order(orders)
    await sign_in(pg, orders, f"/execution/{invalid}")
    await pg.wait_for_selector("#execution-status:text('FAILED')", timeout=30_000)
    await pg.wait_for_selector("#graph g.node.state[data-state='Invalid'][data-status='FAILED']")
    seen = await statuses(pg)
    assert (seen["Validate"], seen["MarkInvalid"], seen["MarkValidated"]) == ("CAUGHT", "SUCCEEDED", "NOT_STARTED")
    assert await pg.is_enabled("#redrive") and not await pg.is_enabled("#stop")

    await pg.goto(f"{base(orders)}/console#/execution/{no_stock}")
    await pg.wait_for_selector("#graph g.node.state[data-state='MarkCancelled'][data-status='SUCCEEDED']", timeout=30_000)
    seen = await statuses(pg)
    assert seen["Reserve"] == "CAUGHT" and seen["Compensate"] == "SUCCEEDED" and seen["MarkPaid"] == "NOT_STARTED"
    assert await pg.get_attribute("#graph g.node.group[data-state='ChargeAndReserve']", "data-status") == "CAUGHT"

    await pg.goto(f"{base(orders)}/console#/execution/{waiting}")
    await pg.wait_for_selector("#graph g.node.state[data-state='AwaitApproval'][data-status='WAITING']", timeout=30_000)
    await pg.click("#stop")
    await pg.wait_for_selector("#execution-status:text('ABORTED')", timeout=30_000)
    await pg.wait_for_selector("#graph g.node.state[data-state='AwaitApproval'][data-status='FAILED']")
    assert not await pg.locator("#pending button.approve").count()


async def test_an_execution_is_drawn_with_the_version_it_runs(page: Any, orders: Served) -> None:
    pg = page
    client = orders.client
    v1: dict[str, Any] = {
        "StartAt": "Tag",
        "States": {
            # A path in a key without ".$": a WARNING diagnostic (NO_DOLLAR), not an error.
            "Tag": {"Type": "Pass", "Parameters": {"x": "$.foo"}, "Next": "Hold"},
            "Hold": {"Type": "Wait", "Seconds": 600, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    await client.ok('mutation($d: String!) { createStateMachine(name: "hold", definition: $d) { version } }', {"d": json.dumps(v1)})
    started = await client.ok('mutation { startExecution(stateMachine: "hold", input: "{}") { executionArn } }')
    arn = started["startExecution"]["executionArn"]
    v2 = {"StartAt": "Extra", "States": {"Extra": {"Type": "Pass", "Next": "Tag"}, **v1["States"]}}
    updated = await client.ok(
        'mutation($d: String!) { updateStateMachine(stateMachine: "hold", definition: $d) { version } }', {"d": json.dumps(v2)}
    )
    assert updated["updateStateMachine"]["version"] == 2
    await sign_in(pg, orders, f"/execution/{arn}")
    await pg.wait_for_selector("#graph g.node.state[data-state='Hold'][data-status='RUNNING']", timeout=30_000)
    assert await pg.text_content("#drawn-version") == "version 1"
    assert not await pg.locator("#graph g.node[data-state='Extra']").count()
    await pg.goto(f"{base(orders)}/console#/machines/hold")
    await pg.wait_for_selector("#graph g.node[data-state='Extra']")
    assert await pg.text_content("#validation-result") == "OK"
    diagnostic = pg.locator("tr", has_text="NO_DOLLAR")
    assert "WARNING" in (await diagnostic.text_content() or "")


async def test_data_views_show_row_counts_rows_with_filters_and_the_conflict_log(page: Any, orders: Served) -> None:
    pg = page
    await start_order(orders)
    [order] = (await orders.client.ok("{ listOrders { items { id } } }"))["listOrders"]["items"]
    # Two writes from version 1: the second is stale, AUTOMERGE resolves it and logs the conflict.
    update = "mutation($i: UpdateOrderInput!) { updateOrder(input: $i) { id _version } }"
    await orders.client.ok(update, {"i": {"id": order["id"], "note": "first", "_version": 1}})
    await orders.client.ok(update, {"i": {"id": order["id"], "note": "stale", "_version": 1}})
    await sign_in(pg, orders, "/data/Order?filter=" + '{"customer":{"eq":"ada"}}')
    await pg.wait_for_selector("#rows table")
    assert await pg.text_content(".row-count[data-model='Order']") == "1"
    assert await pg.locator("#rows tbody tr").count() == 1
    await pg.fill("#row-filter", '{"customer":{"eq":"nobody"}}')
    await pg.click("#row-filter-apply")
    await pg.wait_for_function("document.querySelectorAll('#rows tbody tr').length === 0")
    await pg.goto(f"{base(orders)}/console#/conflicts")
    row = pg.locator("#conflicts tbody tr", has_text=order["id"]).first
    await row.wait_for()
    assert "AUTOMERGE" in (await row.text_content() or "")
    assert '"stale"' in (await row.text_content() or "")


async def test_the_explorer_works_inside_the_console(page: Any, orders: Served) -> None:
    pg = page
    await start_order(orders)
    await sign_in(pg, orders, "/explorer")
    frame = pg.frame_locator("iframe.explorer")
    # The key entered in the console reached the explorer; its sidebar lists the schema's fields.
    await frame.locator("#docs button", has_text="listOrders(").click()
    assert "listOrders" in await frame.locator("#query").input_value()
    await frame.locator("#run").click()
    await frame.locator("#result", has_text='"customer": "ada"').wait_for(timeout=15_000)
    # A subscription runs over the WebSocket and shows events as they come.
    await frame.locator("#query").fill("subscription { onCreateOrder { id customer } }")
    await frame.locator("#run").click()
    await frame.locator("#result", has_text='"subscribed": true').wait_for(timeout=15_000)
    registry = orders.running.syncline.realtime.registry  # type: ignore[union-attr]

    async def registered() -> bool:
        return bool(registry.subscribers >= 1)

    await until(registered, "the explorer's subscription is registered")
    await orders.client.ok(CREATE_ORDER, {"i": {"customer": "grace", "item": "pen", "quantity": 1, "amount": 1.0}})
    await frame.locator("#result", has_text='"customer": "grace"').wait_for(timeout=15_000)


async def test_console_api_needs_the_same_credentials_as_graphql(orders: Served) -> None:
    definition = (ROOT / "examples/orders/workflows/fulfil.asl.json").read_text()
    async with aiohttp.ClientSession() as session:
        url = base(orders)
        async with session.get(f"{url}/console") as resp:
            assert resp.status == 200 and "console.js" in await resp.text()
        for name in ("..%2Fhttp.py", "_endpoints.py", "__init__.py", "nothing.js"):
            async with session.get(f"{url}/console/static/{name}") as resp:
                assert resp.status == 404, name
        async with session.get(f"{url}/console/static/console.js") as resp:
            assert resp.status == 200 and resp.content_type == "text/javascript"
        async with session.post(f"{url}/console/api/layout", json={"definition": definition}) as resp:
            assert resp.status == 401
        async with session.get(f"{url}/console/api/conflicts", headers={"x-api-key": "da2-wrong"}) as resp:
            assert resp.status == 401
        headers = {"x-api-key": API_KEY}
        async with session.post(f"{url}/console/api/layout", json={"definition": definition}, headers=headers) as resp:
            assert resp.status == 200
            ids = {n["id"] for n in (await resp.json())["nodes"]}
            assert set(ORDER_STATES) <= ids
        async with session.post(f"{url}/console/api/layout", json={"definition": "{"}, headers=headers) as resp:
            assert resp.status == 400
            assert "not valid JSON" in (await resp.json())["errors"][0]["message"]
        async with session.get(f"{url}/console/api/models", headers=headers) as resp:
            assert (await resp.json()) == {"models": [{"name": "Order", "rows": 0}]}
        async with session.get(f"{url}/console/api/definition?stateMachine=fulfil&version=1", headers=headers) as resp:
            assert json.loads((await resp.json())["definition"]) == json.loads(definition)
        async with session.get(f"{url}/console/api/definition?stateMachine=fulfil&version=9", headers=headers) as resp:
            assert resp.status == 404
        async with session.get(f"{url}/console/api/definition?stateMachine=fulfil&version=1") as resp:
            assert resp.status == 401


def test_install_script_and_ci_hook() -> None:
    """CI installs the browser before the tests; the script is a no-op once chromium is there."""
    script = ROOT / "scripts" / "install-browser.sh"
    assert "apt-get install -y" in script.read_text() and "/usr/bin/chromium" in script.read_text()
    assert "scripts/install-browser.sh" in (ROOT / ".ci" / "run").read_text()
    assert shutil.which("bash")


def test_exported_members() -> None:
    import server.web.console as console

    assert console.__all__ == sorted(console.__all__) == ["ADMIN_GROUP", "ConsoleEndpoints", "is_admin"]


def test_counts_and_conflicts_are_for_api_keys_and_admins_only() -> None:
    assert is_admin(Identity(auth_mode="API_KEY", api_key_id="k"))
    assert is_admin(Identity(auth_mode="OPENID_CONNECT", sub="u1", groups=("admin",)))
    assert not is_admin(Identity(auth_mode="OPENID_CONNECT", sub="u2", groups=("staff",)))
    assert not is_admin(Identity(auth_mode="AWS_LAMBDA"))


@pytest.fixture
async def auth_world(tmp_path: Path) -> AsyncIterator[AuthServer]:
    async for world in serve_auth_project(tmp_path):
        yield world


async def test_a_token_signs_in_and_counts_need_the_admin_group(tmp_path: Path, auth_world: AuthServer) -> None:
    url = auth_world.url.removesuffix("/graphql")
    user = auth_world.tokens.token("alice")
    admin = auth_world.tokens.token("root", groups=("admin",))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/console/api/models", headers={"Authorization": user}) as resp:
            assert resp.status == 403
        async with session.get(f"{url}/console/api/conflicts", headers={"Authorization": user}) as resp:
            assert resp.status == 403
        async with session.get(f"{url}/console/api/models", headers={"Authorization": admin}) as resp:
            assert resp.status == 200 and "models" in await resp.json()
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: run scripts/install-browser.sh (CI does)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROME_ARGS
        )
        try:
            pg = context.pages[0] if context.pages else await context.new_page()
            await pg.goto(f"{url}/console#/data")
            await pg.wait_for_selector("#login[open]")
            await pg.select_option("#login-kind", "authorization")
            await pg.fill("#login-value", user)
            await pg.click("#login-submit")
            await pg.wait_for_selector("body[data-ready='1']")
            # The token works for GraphQL and the WebSocket; the counts fall back to "n/a".
            await pg.wait_for_function("document.body.dataset.live === '1'")
            assert await pg.text_content(".row-count[data-model='Note']") == "n/a"
        finally:
            await context.close()
