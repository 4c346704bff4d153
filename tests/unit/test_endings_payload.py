"""The NOTIFY payload of a saga's end: its id and outcome, or the id alone when the outcome
would pass PostgreSQL's 8,000-byte limit; anything else heard on the channel names nothing."""

from __future__ import annotations

import uuid

from orchestrator.store.endings import MAX_PAYLOAD_BYTES, announcement, heard

SAGA = uuid.UUID("2f1e3c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f")


def test_an_end_is_announced_with_its_status_and_error():
    assert heard(announcement(SAGA, "compensated", "Quote: price book missing")) == (
        SAGA,
        ("compensated", "Quote: price book missing"),
    )
    assert heard(announcement(SAGA, "succeeded", None)) == (SAGA, ("succeeded", None))


def test_an_error_of_any_script_survives_the_trip():
    error = 'Teklif: fiyat listesi yok — 価格表がありません "quoted" \\ back'
    assert heard(announcement(SAGA, "failed", error)) == (SAGA, ("failed", error))


def test_an_outcome_too_long_to_notify_is_the_id_alone():
    told = announcement(SAGA, "compensated", "é" * 4_000)  # 8,000 bytes of error
    assert told == str(SAGA)
    assert heard(told) == (SAGA, None)
    fits = announcement(SAGA, "compensated", "e" * 7_900)
    assert len(fits.encode()) <= MAX_PAYLOAD_BYTES
    assert heard(fits) == (SAGA, ("compensated", "e" * 7_900))


def test_a_bare_id_as_earlier_releases_sent_it_names_the_saga_but_no_outcome():
    assert heard(str(SAGA)) == (SAGA, None)


def test_what_is_not_an_announcement_names_nothing_or_no_outcome():
    assert heard("") is None
    assert heard("not-a-uuid {}") is None
    assert heard(f"{SAGA} not json") is None
    assert heard(f"{SAGA} []") == (SAGA, None)
    assert heard(f'{SAGA} {{"status": "exploded"}}') == (SAGA, None)  # not a status word
    assert heard(f'{SAGA} {{"status": "failed", "error": 5}}') == (SAGA, ("failed", None))
