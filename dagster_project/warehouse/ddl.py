"""The tables kpi-firewatch writes itself (the night's state, the guard's totals) declared from
dataclasses, in each engine's types (`Warehouse.types`), keys and NOT NULL where it has them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from dagster_project.warehouse.engine import Warehouse


@cache
def dataclass_columns(cls: type) -> tuple[tuple[str, type], ...]:
    """A dataclass's fields as (name, Python type): `date | None` is a date, a Literal of
    strings (a severity) a str."""

    def kind(hint: Any) -> type:
        if get_origin(hint) is Literal:
            return type(get_args(hint)[0])
        if type(None) in get_args(hint):
            return kind(next(a for a in get_args(hint) if a is not type(None)))
        return hint

    hints = get_type_hints(cls)
    return tuple((f.name, kind(hints[f.name])) for f in fields(cls))


def create_table(
    wh: Warehouse,
    table: str,
    columns: Sequence[tuple[str, type]],
    key: str | tuple[str, ...] | None = None,
    required: Collection[str] = (),
) -> None:
    """CREATE TABLE IF NOT EXISTS in the engine's types; the key (a column or several) and NOT
    NULL where the engine has them."""
    single = key if isinstance(key, str) else None

    def column(name: str, kind: type) -> str:
        constraint = " primary key" if name == single else " not null" if name in required else ""
        return f"{name} {wh.types[kind]}{constraint if wh.constraints else ''}"

    listed = [column(name, kind) for name, kind in columns]
    if isinstance(key, tuple) and wh.constraints:
        listed.append(f"primary key ({', '.join(key)})")
    wh.execute(f"create table if not exists {table} ({', '.join(listed)})")
