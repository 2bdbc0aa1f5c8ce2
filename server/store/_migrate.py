"""Schema migration planning, sans-IO: compare the stored model snapshot with the new specs.

Additive changes (new models, new nullable fields, relaxed nullability, a new conflict
strategy) migrate in place: items are JSON, so nothing is rewritten. A change that could lose
or invalidate data is a `Risk`; the store counts the rows each risk touches and refuses to
start (SchemaMigrationError naming type and field) only when existing data would be lost or
violate the new schema — an empty model may change freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from server.models import METADATA_FIELDS, ModelSpec

Snapshot = dict[str, dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Risk:
    model: str
    field: str | None
    #: which rows make it destructive: any row of the model; rows holding a non-null value
    #: of the field; rows where the field is null or missing.
    rows: Literal["any", "non_null", "null"]
    problem: str
    remedy: str

    def message(self, count: int) -> str:
        where = self.model if self.field is None else f"{self.model}.{self.field}"
        return f"{where}: {self.problem}, and {count} stored item(s) would be affected. {self.remedy}"


def snapshot(models: Sequence[ModelSpec]) -> Snapshot:
    """What `migrate` stores, to compare against at the next start."""
    return {
        m.name: {
            "conflict": m.conflict,
            "fields": {
                f.name: {
                    "type": f.type_name,
                    "kind": f.kind,
                    "required": f.required,
                    "is_list": f.is_list,
                    "item_required": f.item_required,
                }
                for f in m.fields
                if f.name not in METADATA_FIELDS
            },
        }
        for m in models
    }


def _describe(f: dict[str, Any]) -> str:
    inner = f["type"] + ("!" if f["item_required"] else "")
    text = f"[{inner}]" if f["is_list"] else f["type"]
    return text + ("!" if f["required"] else "")


def plan(old: Snapshot | None, new: Snapshot) -> tuple[list[str], list[Risk]]:
    """Returns (human-readable change lines, risks the store must check against data)."""
    changes: list[str] = []
    risks: list[Risk] = []
    if old is None:
        return [f"created model {name}" for name in sorted(new)], []
    for name in sorted(set(old) - set(new)):
        changes.append(f"removed model {name}")
        risks.append(
            Risk(
                model=name,
                field=None,
                rows="any",
                problem="the type was removed from the schema (or lost its @model)",
                remedy="Restore the type, or delete its items before removing it.",
            )
        )
    for name in sorted(set(new) - set(old)):
        changes.append(f"added model {name}")
    for name in sorted(set(new) & set(old)):
        o, n = old[name], new[name]
        if o.get("conflict") != n.get("conflict"):
            changes.append(f"{name}: conflict strategy {o.get('conflict')} -> {n.get('conflict')}")
        ofields: dict[str, Any] = o["fields"]
        nfields: dict[str, Any] = n["fields"]
        for fname in sorted(set(ofields) - set(nfields)):
            changes.append(f"removed field {name}.{fname}")
            risks.append(
                Risk(
                    model=name,
                    field=fname,
                    rows="non_null",
                    problem="the field was removed but items hold values for it",
                    remedy="Restore the field (it can be nullable), or clear its values first.",
                )
            )
        for fname in sorted(set(nfields) - set(ofields)):
            nf = nfields[fname]
            changes.append(f"added field {name}.{fname}: {_describe(nf)}")
            if nf["required"]:
                risks.append(
                    Risk(
                        model=name,
                        field=fname,
                        rows="null",
                        problem=f"a non-null field ({_describe(nf)}) was added but existing items have no value",
                        remedy="Add it as nullable first, fill it in, then make it non-null.",
                    )
                )
        for fname in sorted(set(nfields) & set(ofields)):
            of, nf = ofields[fname], nfields[fname]
            if of == nf:
                continue
            was, now = _describe(of), _describe(nf)
            changes.append(f"changed field {name}.{fname}: {was} -> {now}")
            if of["type"] != nf["type"] or of["kind"] != nf["kind"]:
                risks.append(
                    Risk(
                        model=name,
                        field=fname,
                        rows="non_null",
                        problem=f"the type changed from {was} to {now}",
                        remedy=f"Revert the change, or add a new field of type {now} and copy the data over.",
                    )
                )
            elif of["is_list"] != nf["is_list"]:
                risks.append(
                    Risk(
                        model=name,
                        field=fname,
                        rows="non_null",
                        problem=f"changed between list and single value ({was} -> {now})",
                        remedy="Revert the change, or add a new field and copy the data over.",
                    )
                )
            else:
                if nf["required"] and not of["required"]:
                    risks.append(
                        Risk(
                            model=name,
                            field=fname,
                            rows="null",
                            problem=f"the field became non-null ({was} -> {now}) but items hold null",
                            remedy="Fill in the missing values first, or keep the field nullable.",
                        )
                    )
                if nf["item_required"] and not of["item_required"]:
                    risks.append(
                        Risk(
                            model=name,
                            field=fname,
                            rows="non_null",
                            problem=f"list elements became non-null ({was} -> {now})",
                            remedy="Keep the elements nullable, or clear the lists first.",
                        )
                    )
    return changes, risks
