"""The protocol benchmark keeps working: awaken serving a restate-sdk deployment in both modes,
with tiny counts (its figures are not checked: timing goals live in benchmarks/, not in tests).
"""

from __future__ import annotations

import pytest
from benchmarks.protocol import Sizes, main


@pytest.mark.timeout(60)
async def test_protocol_benchmark_runs_and_reports() -> None:
    result = await main(Sizes(rounds=1, c1=10, c64=20, awakeables=20))
    assert result["anchors"]["step_c64"]["per_s"] == 564
    for mode, protocol_type in (("request_response", "RequestResponse"), ("bidi", "BidiStream")):
        out = result[mode]
        assert out["deployment"]["protocol_type"] == protocol_type
        for workload in ("step_c1", "step_c64"):
            assert out[workload]["calls"] > 0 and out[workload]["per_s"] > 0
            # CPU times come in clock ticks (10 ms): a few fast calls may have used none
            assert out[workload]["server_cpu_ms_per_invocation"] >= 0
            assert out[workload]["endpoint_requests_per_invocation"] >= 1
        assert out["awakeables"]["awakeables"] == 20 and out["awakeables"]["completions_per_s"] > 0
        assert out["endpoint_requests"]["invoke_requests"] > 0
        assert out["attempt_failures"]["failed_attempts"] >= 0
        assert 0 <= out["machine_load"]["benchmark_processes_pct"] <= 100
    # While they wait suspended, no request to the endpoint is open, in either mode.
    for waiting in (result["request_response"]["awakeables"], result["bidi"]["suspended"]):
        assert waiting["completions_per_s"] > 0
        assert waiting["while_waiting"]["settled"]
        assert waiting["while_waiting"]["requests_in_flight_to_endpoint"] == 0
        assert waiting["while_waiting"]["awaken_suspended"] == 20
    # In bidirectional mode with the default inactivity timeout, every stream is still open.
    assert result["bidi"]["awakeables"]["while_waiting"]["requests_in_flight_to_endpoint"] == 20
    assert "server_cpu_ms_per_invocation" in result["bidi"]["versus_anchors"]
