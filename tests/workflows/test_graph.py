"""The state machine layout (server/workflows/graph.py) and `syncline asl graph`."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from server.workflows.asl.cli import main as asl_main
from server.workflows.asl.errors import AslSyntaxError
from server.workflows.graph import LayoutDict, layout, to_svg

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders" / "workflows" / "fulfil.asl.json"


def by_id(lay: LayoutDict) -> dict[str, Any]:
    return {n["id"]: n for n in lay["nodes"]}


def inside(inner: Any, outer: Any) -> bool:
    return bool(
        outer["x"] <= inner["x"]
        and outer["y"] <= inner["y"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def overlap(a: Any, b: Any) -> bool:
    return not (
        a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    )


def check_geometry(lay: LayoutDict) -> None:
    nodes = by_id(lay)
    for n in lay["nodes"]:
        assert 0 <= n["x"] and n["x"] + n["w"] <= lay["width"] + 0.5, n
        assert 0 <= n["y"] and n["y"] + n["h"] <= lay["height"] + 0.5, n
        if n["parent"] is not None:
            assert inside(n, nodes[n["parent"]]), (n, nodes[n["parent"]])
    siblings: dict[Any, list[Any]] = {}
    for n in lay["nodes"]:
        siblings.setdefault(n["parent"], []).append(n)
    for group in siblings.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not overlap(a, b), (a["id"], b["id"])
    for e in lay["edges"]:
        assert e["source"] in nodes and e["target"] in nodes
        assert len(e["points"]) >= 2


def test_orders_has_every_state_nested_groups_and_typed_edges() -> None:
    definition = json.loads(ORDERS.read_text())
    lay = layout(ORDERS.read_text())
    nodes = by_id(lay)
    top = set(definition["States"])
    assert top <= set(nodes)
    assert {"Charge", "Reserve"} <= set(nodes)
    assert nodes["ChargeAndReserve"]["kind"] == "group"
    branches = [n for n in lay["nodes"] if n["kind"] == "branch"]
    assert [b["parent"] for b in branches] == ["ChargeAndReserve", "ChargeAndReserve"]
    assert nodes["Charge"]["parent"] == branches[0]["id"] and nodes["Reserve"]["parent"] == branches[1]["id"]
    kinds = {(e["source"], e["target"]): e["kind"] for e in lay["edges"]}
    assert kinds[("Validate", "MarkInvalid")] == "catch"
    assert kinds[("Approved?", "Ship")] == "choice"
    assert kinds[("Approved?", "Compensate")] == "default"
    assert kinds[("AwaitApproval", "Approved?")] == "next"
    # Layered: every forward transition goes down the page.
    for a, b in [("Validate", "MarkValidated"), ("MarkPaid", "AwaitApproval"), ("Ship", "MarkShipped")]:
        assert nodes[a]["y"] + nodes[a]["h"] <= nodes[b]["y"]
    check_geometry(lay)


def test_map_iterator_cycles_and_labels() -> None:
    definition = {
        "StartAt": "Loop",
        "States": {
            "Loop": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Each"}],
                "Default": "Done",
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
                "Next": "Loop",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    lay = layout(definition)
    nodes = by_id(lay)
    assert nodes["Each"]["kind"] == "group" and nodes["Work"]["parent"] == "#branch:Each[*]"
    [rule] = [e for e in lay["edges"] if e["kind"] == "choice"]
    assert rule["label"] == "$.n < 3"
    back = [e for e in lay["edges"] if (e["source"], e["target"]) == ("Each", "Loop")]
    assert back, "the loop's back edge is drawn"
    check_geometry(lay)


def test_bad_definitions_raise_our_error() -> None:
    with pytest.raises(AslSyntaxError, match="not valid JSON"):
        layout("{")
    with pytest.raises(AslSyntaxError, match="StartAt"):
        layout({"States": {}})


def test_svg_is_well_formed_and_colors_statuses() -> None:
    svg = to_svg(layout(ORDERS.read_text()), {"Validate": "SUCCEEDED", "AwaitApproval": "WAITING"})
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("data-state"): g for g in root.iter(f"{ns}g") if g.get("data-state")}
    assert groups["Validate"].find(f"{ns}rect").get("fill") == "#bbf7d0"  # type: ignore[union-attr]
    assert groups["AwaitApproval"].find(f"{ns}rect").get("fill") == "#fef08a"  # type: ignore[union-attr]
    assert groups["Ship"].find(f"{ns}rect").get("fill") == "#f3f4f6"  # type: ignore[union-attr]


def test_cli_writes_the_svg(tmp_path: Path) -> None:
    out = tmp_path / "orders.svg"
    assert asl_main(["graph", str(ORDERS), "-o", str(out)]) == 0
    root = ET.fromstring(out.read_text())
    labels = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Validate", "Charge", "Reserve", "Approved?", "MarkCancelled"} <= labels
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    err = io.StringIO()
    assert asl_main(["graph", str(bad)], stderr=err) == 2
    assert "StartAt" in err.getvalue()


names = st.sampled_from([f"S{i}" for i in range(8)])


@st.composite
def machines(draw: Any, depth: int = 0) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    own = [f"{'ABC'[depth]}{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(own):
        kind = draw(st.sampled_from(["Pass", "Choice", "Succeed", "Parallel"] if depth < 2 else ["Pass", "Choice", "Succeed"]))
        target = st.sampled_from(own)
        if kind == "Pass":
            states[name] = {"Type": "Pass", "Next": draw(target)} if draw(st.booleans()) else {"Type": "Pass", "End": True}
        elif kind == "Choice":
            states[name] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": draw(target)}],
                "Default": draw(target),
            }
        elif kind == "Parallel":
            branches = [_renamed(draw(machines(depth=depth + 1)), f"{name}b{j}") for j in range(draw(st.integers(1, 3)))]
            states[name] = {"Type": "Parallel", "Branches": branches, "End": True,
                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": draw(target)}]}
        else:
            states[name] = {"Type": "Succeed"}
    return {"StartAt": own[0], "States": states}


def _renamed(machine: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Prefix every state name (ASL: names are unique in the whole machine)."""
    text = json.dumps(machine)
    for name in sorted(_all_names(machine), key=len, reverse=True):
        text = text.replace(f'"{name}"', f'"{prefix}_{name}"')
    return dict(json.loads(text))


def _all_names(machine: dict[str, Any]) -> set[str]:
    out = set(machine["States"])
    for s in machine["States"].values():
        for b in s.get("Branches", []):
            out |= _all_names(b)
    return out


@settings(max_examples=80, deadline=None)
@given(machines())
def test_any_machine_lays_out_without_overlaps(machine: dict[str, Any]) -> None:
    """Invariant: every state gets a node inside its parent group, sibling nodes never overlap,
    and every transition is an edge between drawn nodes (cycles and unreachable states included)."""
    lay = layout(machine)
    assert _all_names(machine) <= set(by_id(lay))
    check_geometry(lay)
    ET.fromstring(to_svg(lay))
