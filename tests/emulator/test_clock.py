"""The emulator's clock: global and per-user-pool time travel (so tests never sleep)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from rolecall.emulator import Clock, Emulator


def test_scoped_time_passes_only_for_that_pool() -> None:
    clock = Clock()
    clock.advance(3600, scope="eu-west-1_pool")
    assert clock.now("eu-west-1_pool") - clock.now() == pytest.approx(3600, abs=1)
    assert clock.now("eu-west-1_other") == pytest.approx(clock.now(), abs=1)


def test_time_never_runs_back() -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        Clock().advance(-1)


def post(endpoint: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(f"{endpoint}/_rolecall/clock", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_deeply_nested_clock_body_is_a_400() -> None:
    with Emulator(port=0) as emulator:
        request = urllib.request.Request(f"{emulator.endpoint}/_rolecall/clock",
                                         b'{"advance": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                                         {"Content-Type": "application/json"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["__type"] == "SerializationException"


@pytest.mark.parametrize(("body", "status"), [
    ({"advance": 60, "scope": "eu-west-1_x"}, 200),
    ({"advance": -5}, 400),
    ({"advance": "soon"}, 400),
    ({"advance": 5, "scope": 7}, 400),
    ({"advance": float("nan")}, 400),  # NaN < 0 is false: time would stop, sessions never expire
    ({"advance": float("inf")}, 400),
    ({"advance": True}, 400),
    ({"advance": 10**400}, 400),
    ({"advance": 1e12}, 400),  # beyond ten years at once
])
def test_clock_control_endpoint_validates(body: object, status: int) -> None:
    with Emulator(port=0) as emulator:
        got, answer = post(emulator.endpoint, body)
        assert got == status
        if status == 400:
            assert answer["__type"] == "ValidationException"
        else:
            assert emulator.state.clock.now("eu-west-1_x") > emulator.state.clock.now() + 59
