"""The text of notices between nodes: what one node writes, another reads back the same; and
nothing a peer (or a stranger on the channel) sends crashes the reader."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from awaken.core.journal import Outcome
from awaken.storage.lifecycle import notices
from awaken.storage.protocol import Notice, NoticeKind

ids = st.text(
    alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=40
)
outcomes = st.one_of(
    st.just(Outcome()),
    st.binary(max_size=500).map(Outcome),
    st.builds(Outcome.fail, st.integers(100, 999), st.text(max_size=200)),
)


@given(ids, st.integers(0, 10_000), outcomes)
def test_a_delivery_reads_back_with_its_outcome(invocation_id: str, index: int, outcome: Outcome) -> None:
    [notice] = notices.parse(notices.deliver(invocation_id, index, outcome))
    expected = outcome
    if expected.failure is not None:  # messages travel as UTF-8
        expected = Outcome.fail(
            expected.failure.code, expected.failure.message.encode("utf-8", "replace").decode()
        )
    assert notice == Notice(NoticeKind.DELIVER, invocation_id, index, expected)


def test_a_large_outcome_stays_behind_and_several_notices_share_a_message() -> None:
    big = notices.deliver("inv", 3, Outcome(b"x" * 10_000))
    assert big == "d inv 3"
    payload = "\n".join([big, notices.cancel("a"), notices.abort("b")])
    assert notices.parse(payload) == [
        Notice(NoticeKind.DELIVER, "inv", 3),
        Notice(NoticeKind.CANCEL, "a"),
        Notice(NoticeKind.ABORT, "b"),
    ]


@given(st.text(max_size=300))
def test_garbage_is_ignored(payload: str) -> None:
    for notice in notices.parse(payload):
        assert notice.kind in (NoticeKind.DELIVER, NoticeKind.CANCEL, NoticeKind.ABORT)
