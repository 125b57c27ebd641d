"""Dashboard accounts: Điều 7 names, scrypt hashes, lockout, admin lock ends sessions."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.store.store import Store
from gateway.http.dashboard.accounts import (
    AccountError,
    available_username,
    check_login,
    create_user,
    hash_password,
    lock_user,
    propose_username,
    session_user,
    start_session,
    verify_password,
)
from gateway.http.dashboard.throttle import PAIR_LIMIT, LoginThrottle
from tests.backends import Clock


@pytest.mark.parametrize(
    ("full_name", "unit", "expected"),
    [
        ("Nguyễn Văn Dũng", "STTTT", "dungnv.stttt"),
        ("Trần Thị Bình", "VP", "binhtt.vp"),
        ("Đặng Hữu Đức", "Sở TT&TT", "ducdh.sotttt"),
        ("  Lê   An  ", "UBND-HL", "anl.ubndhl"),
    ],
)
def test_names_follow_dieu_7(full_name: str, unit: str, expected: str) -> None:
    assert propose_username(full_name, unit) == expected


def test_passwords_are_scrypt_hashed() -> None:
    stored = hash_password("mật khẩu dài hơn")
    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert verify_password("mật khẩu dài hơn", stored)
    assert not verify_password("wrong", stored)
    assert hash_password("same") != hash_password("same")  # salted
    assert not verify_password("x", "md5$whatever")


async def test_clashes_lockout_and_admin_lock(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.http.dashboard.accounts.utc_now", clock)
    clerk = {"full_name": "Nguyễn Văn Dũng", "unit": "STTTT", "role": "clerk"}
    await create_user(
        store,
        username="dungnv.stttt",
        agencies=["000.00.13.H42"],
        password="correct horse",
        **clerk,
    )
    assert await available_username(store, "dungnv.stttt") == ("dungnv2.stttt", True)
    assert await available_username(store, "anl.vp") == ("anl.vp", False)
    with pytest.raises(AccountError, match="exists already"):
        await create_user(
            store, username="dungnv.stttt", agencies=["*"], password="0123456789", **clerk
        )
    with pytest.raises(AccountError, match="Điều 7"):
        await create_user(store, username="Dũng NV", agencies=["*"], password="0123456789", **clerk)

    throttle = LoginThrottle(clock=store.now)

    async def login(password: str, address: str = "10.0.0.5", name: str = "dungnv.stttt") -> Any:
        return await check_login(store, name, password, address=address, throttle=throttle)

    account = await login("correct horse")
    assert account.may_act
    assert account.sees("000.00.13.H42")
    assert not account.sees("000.00.12.H42")
    for _ in range(PAIR_LIMIT):  # someone guesses from another desk
        with pytest.raises(AccountError, match="wrong account name or password"):
            await login("guess", address="10.0.0.66")
    with pytest.raises(AccountError, match="too many failed logins"):
        await login("correct horse", address="10.0.0.66")
    assert (await login("correct horse")).username == "dungnv.stttt"  # not locked out here
    clock.advance(16 * 60)
    token, _ = await start_session(store, await login("correct horse", address="10.0.0.66"))
    assert (await session_user(store, token)) is not None
    assert await lock_user(store, "dungnv.stttt", by="admin")
    assert await session_user(store, token) is None  # its sessions end at once
    with pytest.raises(AccountError, match="wrong account name") as wrong:
        await login("guess")  # locked, but only the right password learns it
    with pytest.raises(AccountError, match="locked"):
        await login("correct horse")
    with pytest.raises(AccountError, match="wrong account name") as unknown:
        await login("x", name="nobody.vp")
    assert wrong.value.key == unknown.value.key == "login_wrong"  # no account is revealed
    for number in range(20):  # one address trying many names
        with pytest.raises(AccountError):
            await login("x", address="10.0.0.99", name=f"user{number}.vp")
    with pytest.raises(AccountError, match="too many"):
        await login("correct horse", address="10.0.0.99")
