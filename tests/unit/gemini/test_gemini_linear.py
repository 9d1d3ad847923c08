"""Translation is linear in the request size, and max_tokens respects the model's output limit."""

import time

from gemgate.config import Deployment
from router_service.providers.gemini_flow import output_limit
from router_service.providers.gemini.translate import to_gemini_request


def _same_role(n: int) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": f"message {i}"} for i in range(n)]}


def _best_time(req: dict, runs: int = 5) -> float:
    """Best-of-N CPU time of this process (time spent waiting for a busy machine's cores does not count)."""
    best = float("inf")
    for _ in range(runs):
        t = time.process_time()
        to_gemini_request(req)
        best = min(best, time.process_time() - t)
    return best


def test_same_role_messages_translate_in_linear_time():
    small, big = _same_role(2_500), _same_role(20_000)
    out = to_gemini_request(big)
    assert len(out["contents"]) == 1 and len(out["contents"][0]["parts"]) == 20_000
    # 8x the messages: linear work takes ~8x, the old quadratic merge took ~64x. Best-of-5 CPU times
    # keep scheduler noise out; the absolute bound is generous (measured ~30 ms on one core).
    ratio = _best_time(big) / _best_time(small)
    assert ratio < 24, f"20k/2.5k translation time ratio {ratio:.1f} (linear ~8, quadratic ~64)"
    assert _best_time(big) < 1.0


def test_alternating_tool_results_still_get_their_own_turns():
    msgs = [{"role": "user", "content": "go"}]
    for i in range(3):
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}]})
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "content": "ok"})
        msgs.append({"role": "user", "content": "more"})
    roles = [(c["role"], "functionResponse" in c["parts"][0]) for c in to_gemini_request({"model": "m", "messages": msgs})["contents"]]
    assert roles == [("user", False)] + [("model", False), ("user", True), ("user", False)] * 3


def _dep(**info) -> Deployment:
    return Deployment.model_validate({"model_name": "g", "litellm_params": {"model": "gemini/gemini-2.5-flash"},
                                      "model_info": info})


def test_max_tokens_above_the_model_limit_is_clamped():
    limit = output_limit(_dep())
    assert limit == 65_536  # the price table's gemini-2.5-flash output limit
    body = to_gemini_request({**_same_role(1), "max_tokens": 2**31 - 1}, output_limit=limit)
    assert body["generationConfig"]["maxOutputTokens"] == limit
    body = to_gemini_request({**_same_role(1), "max_completion_tokens": 100}, output_limit=limit)
    assert body["generationConfig"]["maxOutputTokens"] == 100
    assert output_limit(_dep(max_output_tokens=1000)) == 1000


def test_unknown_model_has_no_clamp_but_int32_is_enforced():
    dep = Deployment.model_validate({"model_name": "g", "litellm_params": {"model": "gemini/some-future-model"}})
    assert output_limit(dep) is None
    assert to_gemini_request({**_same_role(1), "max_tokens": 2**31 - 1})["generationConfig"]["maxOutputTokens"] == 2**31 - 1
    import pytest

    from gemgate.errors import GatewayError
    with pytest.raises(GatewayError) as exc:
        to_gemini_request({**_same_role(1), "max_tokens": 2**31})
    assert exc.value.param == "max_tokens"
