"""Statements for many rows at once (storage/bulk.py), on both databases: the same outcome as row by row."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from bot.messages import Message
from bot.outbox import enqueue_rows, outbox_row
from storage.bulk import IDS_PER_STATEMENT, insert_new, update_by_id
from storage.db import Database
from storage.models import Member, Outbox, OutboxKind, Workspace

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _workspace(db: Database) -> int:
    async with db.transaction() as s:
        ws = Workspace(platform="console", external_id="w")
        s.add(ws)
        await s.flush()
        assert ws.id is not None
        return ws.id


def _member(ws: int, external_id: str, name: str = "") -> dict[str, object]:
    return {"workspace_id": ws, "external_id": external_id, "display_name": name, "created_at": T0}


async def test_insert_new_skips_taken_keys_and_returns_only_what_it_inserted(db: Database) -> None:
    ws = await _workspace(db)
    async with db.transaction() as s:
        first = await insert_new(s, Member, [_member(ws, "u1", "Ann"), _member(ws, "u2")],
                                 unique=("workspace_id", "external_id"), returning=("external_id", "id"))
    async with db.transaction() as s:
        again = await insert_new(s, Member, [_member(ws, "u2", "Other"), _member(ws, "u3", "Émile \"E\"")],
                                 unique=("workspace_id", "external_id"), returning=("external_id", "id"))
        rows = (await s.exec(select(Member.external_id, Member.display_name).order_by(col(Member.id)))).all()
    assert sorted(e for e, _ in first) == ["u1", "u2"]
    assert [e for e, _ in again] == ["u3"]
    assert rows == [("u1", "Ann"), ("u2", ""), ("u3", "Émile \"E\"")]


async def test_insert_new_never_cuts_a_text_too_long_for_its_column(db: Database) -> None:
    ws = await _workspace(db)
    try:  # PostgreSQL refuses it, as a plain INSERT would; SQLite keeps it whole. Cut short, two keys could merge.
        async with db.transaction() as s:
            await insert_new(s, Member, [_member(ws, "u" * 500)], unique=("workspace_id", "external_id"))
    except DBAPIError:
        assert db.dialect == "postgresql"
        return
    async with db.read() as s:
        assert (await s.exec(select(Member.external_id))).all() == ["u" * 500]


async def test_update_by_id_sets_each_row_its_own_values_and_leaves_the_rest(db: Database) -> None:
    ws = await _workspace(db)
    async with db.transaction() as s:
        await insert_new(s, Member, [_member(ws, f"u{i}") for i in range(5)], unique=("workspace_id", "external_id"))
        ids = (await s.exec(select(Member.id).order_by(col(Member.id)))).all()
    async with db.transaction() as s:
        await update_by_id(s, Member, [{"id": ids[3], "display_name": "D", "created_at": T0 + timedelta(days=3)},
                                       {"id": ids[1], "display_name": "B", "created_at": T0 + timedelta(days=1)}])
        rows = (await s.exec(select(Member.display_name, Member.created_at).order_by(col(Member.id)))).all()
    assert rows == [("", T0), ("B", T0 + timedelta(days=1)), ("", T0), ("D", T0 + timedelta(days=3)), ("", T0)]


async def test_update_by_id_of_many_rows_sharing_values_sets_each_its_own(db: Database) -> None:
    # A fan-out's shape: thousands of rows, a few sets of values (one per zone), more rows per set than one
    # statement takes, and a row with values of its own among them.
    ws = await _workspace(db)
    count = 3 * IDS_PER_STATEMENT + 50
    async with db.transaction() as s:
        await insert_new(s, Member, [_member(ws, f"u{i}") for i in range(count)], unique=("workspace_id", "external_id"))
        ids = (await s.exec(select(Member.id).order_by(col(Member.id)))).all()
    wanted = {mid: (f"zone {i % 3}", T0 + timedelta(hours=i % 3)) for i, mid in enumerate(ids[1:])}
    wanted[ids[7]] = ("alone", T0 + timedelta(days=9))
    async with db.transaction() as s:
        await update_by_id(s, Member, [{"id": mid, "display_name": name, "created_at": at}
                                       for mid, (name, at) in reversed(wanted.items())])
    async with db.read() as s:
        rows = (await s.exec(select(Member.id, Member.display_name, Member.created_at))).all()
    assert {mid: (name, at) for mid, name, at in rows} == {ids[0]: ("", T0), **wanted}


async def test_json_columns_keep_what_was_written(db: Database) -> None:
    ws = await _workspace(db)
    payload = {"text": "Émile \"E\" ✓\n", "fields": [["a", "b"]], "n": 1.5, "none": None, "yes": True,
               "by_id": {3: "an integer key"}}
    row = outbox_row(kind=OutboxKind.NUDGE, subject_id=1, workspace_id=ws, dest_kind="user", target="u1",
                     message=Message("unused"), now=T0)
    async with db.transaction() as s:
        await enqueue_rows(s, [row | {"payload": payload}])
    async with db.read() as s:
        stored = (await s.exec(select(Outbox.payload))).one()
    # An integer key comes back a string, as the standard json module writes it.
    assert stored == payload | {"by_id": {"3": "an integer key"}}
