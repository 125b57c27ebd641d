"""Searching as clerks type: with or without diacritics, by an agency's name or a fragment
of its code, on both stores; the incoming register's numbers; names kept across syncs."""

from __future__ import annotations

import asyncio
import importlib

import sqlalchemy as sa

from adapters.store.dashboard import SentSearch
from adapters.store.directory import ListedAgency
from adapters.store.folding import fold
from adapters.store.schema import messages
from adapters.store.store import NewDelivery, NewMessage, Store

OFFICE, VPCP, TAY_NINH = "000.00.01.H42", "000.00.00.G22", "000.00.11.H53"


def test_folding_drops_marks_and_maps_d_bar() -> None:
    assert fold("Sở Thông tin và Truyền thông ĐỒNG NAI") == "so thong tin va truyen thong dong nai"
    assert fold("Liên thông") == fold("lien thong") == fold("LIÊN THÔNG")


async def _sent(store: Store, number: int, subject: str, recipient: str) -> str:
    message_id, _ = await store.accept(
        NewMessage(
            direction="out",
            document_id=f"{OFFICE},2026/11/25,{number}/UBND-VP",
            sender=OFFICE,
            code=f"{number}/UBND-VP",
            subject=subject,
            package_ref="ab" * 32,
            package_size=10,
        ),
        [NewDelivery(recipient, "axis")],
    )
    return message_id


async def _received(store: Store, number: int, subject: str, sender: str) -> str:
    message_id, _ = await store.accept(
        NewMessage(
            direction="in",
            document_id=f"{sender},2026/11/25,{number}/VPCP-KGVX",
            sender=sender,
            code=f"{number}/VPCP-KGVX",
            subject=subject,
            package_ref="cd" * 32,
            package_size=10,
        ),
        [],
        deliver=False,
    )
    await store.set_inbound(message_id, state="accepted", recipient=OFFICE)
    return message_id


async def test_sent_and_received_are_found_by_text_name_and_code_fragment(store: Store) -> None:
    await store.replace_axis_agencies(
        [ListedAgency(VPCP, "Văn phòng Chính phủ"), ListedAgency(TAY_NINH, "UBND tỉnh Tây Ninh")]
    )
    liaison = await _sent(store, 1, "V/v triển khai liên thông văn bản", VPCP)
    figures = await _sent(store, 2, "V/v cung cấp số liệu quý IV", TAY_NINH)
    inbound = await _received(store, 7, "Về việc đôn đốc báo cáo", VPCP)

    async def sent(text: str = "", recipient: str = "") -> set[str]:
        search = SentSearch(
            text=text,
            recipient=recipient,
            named=await store.codes_named(text) if text else (),
            recipients_named=await store.codes_named(recipient) if recipient else (),
        )
        return set(await store.sent_ids([OFFICE], search))

    assert await sent("lien thong") == {liaison}  # without diacritics
    assert await sent("LIÊN THÔNG") == {liaison}
    assert await sent("so lieu") == {figures}
    assert await sent("tay ninh") == {figures}  # the recipient's name
    assert await sent("H53") == {figures}  # a fragment of its code
    assert await sent("2/UBND") == {figures}  # number/notation
    assert await sent(recipient="Chính phủ") == {liaison}
    assert await sent(recipient="00.G22") == {liaison}
    assert await sent("100%_") == set()  # LIKE's wildcards are plain characters

    async def received(text: str = "", sender: str = "") -> set[str]:
        found, _ = await store.received(
            [OFFICE],
            text=text,
            sender=sender,
            named=await store.codes_named(text) if text else (),
            senders_named=await store.codes_named(sender) if sender else (),
        )
        return {row["id"] for row in found}

    assert await received("don doc") == {inbound}
    assert await received("van phong chinh phu") == {inbound}
    assert await received("H42") == {inbound}  # our agency's code, set on reception
    assert await received(sender="chính phủ") == {inbound}
    assert await received(sender="G22") == {inbound}
    assert await received("tay ninh") == set()


async def test_a_local_name_is_shown_and_survives_a_sync(store: Store) -> None:
    await store.replace_axis_agencies([ListedAgency(VPCP, "VPCP")])
    await store.name_agency(VPCP, "Văn phòng Chính phủ")
    await store.name_agency("000.00.99.H42", "Phòng thử nghiệm")  # not in the directory
    await store.replace_axis_agencies([ListedAgency(VPCP, "VPCP (tên trên trục)")])
    names = await store.agency_names()
    assert names[VPCP] == "Văn phòng Chính phủ"
    assert names["000.00.99.H42"] == "Phòng thử nghiệm"
    await store.name_agency(VPCP, None)
    assert (await store.agency_names())[VPCP] == "VPCP (tên trên trục)"


async def test_incoming_numbers_run_through_the_year_per_agency_without_gaps_or_twins(
    store: Store,
) -> None:
    ids = [await _received(store, n, "Văn bản", VPCP) for n in range(6)]
    numbers = await asyncio.gather(*(store.register_incoming(i, 2026) for i in ids))
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]  # registered at the same moment
    assert await store.register_incoming(ids[0], 2026) == numbers[0]  # again: the same
    later = await _received(store, 9, "Văn bản", VPCP)
    assert await store.register_incoming(later, 2027) == 1  # a new year starts at 1


async def test_the_search_text_of_rows_stored_before_the_migration_is_filled(
    store: Store,
) -> None:
    """The migration folds the rows already there: emptied here, refilled by its function."""
    migration = importlib.import_module("adapters.store.migrations.versions.0010_clerk_work")
    await _sent(store, 3, "Kế hoạch chuyển đổi số", VPCP)
    async with store.engine.begin() as connection:
        await connection.execute(messages.update().values(search_text=""))
        await connection.run_sync(migration.fill_search_text)
        text = await connection.scalar(sa.select(messages.c.search_text))
    assert "ke hoach chuyen doi so" in text
