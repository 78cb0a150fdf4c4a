"""The words the CLI shows for outcomes, attempts, times and schemas."""

from __future__ import annotations

from awaken.cli.output import attempts, next_run, outcome, schema_summary, span, when


def row(**fields: object) -> dict[str, object]:
    return {"status": "completed", "epoch": 1, "attempts": 0, **fields}


def test_outcomes() -> None:
    assert outcome(row(status="running")) == ""
    assert outcome(row(completion_result="success")) == "succeeded"
    failure = {"code": 500, "message": "boom"}
    assert outcome(row(completion_result="failure", completion_failure=failure)) == "failed"
    killed = {"code": 409, "message": "killed"}
    assert outcome(row(completion_result="failure", completion_failure=killed)) == "killed"
    for word in ("canceled", "cancelled"):  # Restate's wire word, and a handler's own
        cancelled = {"code": 409, "message": word}
        assert outcome(row(completion_result="failure", completion_failure=cancelled)) == "cancelled"
    assert (
        outcome(row(completion_result="failure", completion_failure={"code": 409, "message": "x"}))
        == "failed"
    )


def test_attempts_count_the_ones_that_ran() -> None:
    assert attempts(row(status="pending", epoch=0)) == 0
    assert attempts(row(status="running", attempts=0)) == 1
    assert attempts(row(status="backing-off", attempts=2)) == 2
    assert attempts(row(status="completed", attempts=2, completion_result="success")) == 3
    cancelled_before_start = {"code": 409, "message": "canceled"}
    assert attempts(row(epoch=0, completion_result="failure", completion_failure=cancelled_before_start)) == 0


def test_times() -> None:
    assert when(0) == "1970-01-01T00:00:00Z" and when(None) == ""
    assert next_run(row(status="scheduled", run_at=86_400_000)) == "1970-01-02T00:00:00Z"
    assert next_run(row(status="completed", run_at=86_400_000)) == ""
    assert [span(x) for x in (850, 12_300, 245_000, 3 * 3_600_000 + 120_000, 52 * 3_600_000)] == [
        "850ms", "12.3s", "4m05s", "3h02m", "2d04h",
    ]  # fmt: skip


def test_schema_summaries() -> None:
    verdict = {
        "title": "Verdict",
        "type": "object",
        "properties": {"approved": {"type": "boolean"}, "reviewer": {"type": "string"}},
    }
    assert schema_summary(verdict) == "Verdict {approved: boolean, reviewer: string}"
    assert schema_summary({"type": "integer"}) == "integer"
    assert schema_summary(None) == "any" and schema_summary({}) == "any"
    assert schema_summary({"enum": ["a", "b"]}) == 'one of "a", "b"'
    assert schema_summary({"type": ["string", "null"]}) == "string | null"
