"""Delta sync pages through everything; a server with a low query cost limit answers big pages
with LimitExceeded, and the client halves its page size until it fits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import Server, free_port, make_project, opened


async def test_paging_adapts_to_the_query_cost_limit(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text().replace("port = 4000", "port = 4000\nmax_query_cost = 2000"))
    srv = Server(project, free_port())
    await srv.start()
    try:
        for start in range(0, 300, 50):
            fields = " ".join(
                f'c{i}: createTodo(input: {{id: "r{i:03d}", title: "row {i}"}}) {{ id }}' for i in range(start, start + 50)
            )
            body = await srv.gql(f"mutation {{ {fields} }}")
            assert "errors" not in body, body
        async with opened(srv.url, tmp_path / "a.db", realtime=False) as c:
            await asyncio.wait_for(c.sync(), 30)
            rows = await c.model("Todo").query(order_by="id")
            assert [r["id"] for r in rows] == [f"r{i:03d}" for i in range(300)]
            # 1000 -> 500 -> 250 -> 125 items: each item selects 12 fields, 125 * 15 + 1 <= 2000.
            assert c._page_limits == {"Todo": 125}
    finally:
        await srv.stop()
