from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from drmkit.license_server import KeyExistsError, KeyStore, KeyStoreError

KID = bytes(range(16))
KEY = bytes(range(16, 32))


def test_add_get_list_remove(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "nested" / "dir" / "keys.sqlite3")
    assert len(store) == 0
    store.add(KID, KEY, label="first")
    assert store.get(KID) == KEY
    assert store.get(bytes(16)) is None
    [entry] = store.entries()
    assert (entry.kid, entry.key, entry.label) == (KID, KEY, "first")
    assert store.remove(KID) is True
    assert store.remove(KID) is False
    assert store.entries() == []


def test_duplicate_add_is_refused_unless_replace(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    store.add(KID, KEY)
    with pytest.raises(KeyExistsError, match=KID.hex()):
        store.add(KID, bytes(16))
    assert store.get(KID) == KEY
    store.add(KID, bytes(16), replace=True)
    assert store.get(KID) == bytes(16)
    assert len(store) == 1


@pytest.mark.parametrize(("kid", "key"), [(b"short", KEY), (KID, b"x" * 17), (KID, b"")])
def test_wrong_lengths_are_value_errors(tmp_path: Path, kid: bytes, key: bytes) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    with pytest.raises(ValueError, match="16 bytes"):
        store.add(kid, key)
    assert len(store) == 0


def test_lookup_returns_only_known_and_handles_many_ids(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    store.add(KID, KEY)
    wanted = [i.to_bytes(16, "big") for i in range(1200)] + [KID, b"odd-length"]
    assert store.lookup(wanted) == {KID: KEY}


def test_data_survives_reopen_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    KeyStore(path).add(KID, KEY, label="persisted")
    reopened = KeyStore(path)
    assert reopened.get(KID) == KEY
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KeyStoreError, match="not a usable key store"):
        KeyStore(path)


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KeyStoreError, match="cannot create the key store directory"):
        KeyStore(blocker / "sub" / "keys.sqlite3")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(KeyStoreError, match="schema version 99"):
        KeyStore(path)


def test_concurrent_writers_and_readers_from_threads(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for i in range(40):
                kid = (base * 1000 + i).to_bytes(16, "big")
                store.add(kid, kid[::-1])
                assert store.get(kid) == kid[::-1]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(store) == 240


def test_a_new_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "keys.sqlite3"
    store = KeyStore(path)
    store.add(KID, KEY)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    for file in path.parent.iterdir():
        assert file.stat().st_mode & 0o077 == 0, file
