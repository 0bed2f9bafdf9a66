"""The shared circuit breaker: open on one process is open on all, one probe cluster-wide."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.redis_state import MakeBackend
from tierroute.gateway.breaker import CLOSED, HALF_OPEN, OPEN
from tierroute.state.base import CIRCUIT_OPEN, GateSpec, ModelGate

pytestmark = pytest.mark.redis

COOLDOWN = 0.4
SPEC = GateSpec(rpm=None, tpm=None, failure_threshold=2, cooldown=COOLDOWN, probe_ttl=5.0)


async def admitted(gates: list[ModelGate], each: int) -> list[ModelGate]:
    """The gates of the admits that got through, of ``each`` concurrent admits per gate."""
    asked = [gate for gate in gates for _ in range(each)]
    answers = await asyncio.gather(*(gate.admit() for gate in asked))
    return [gate for gate, answer in zip(asked, answers, strict=True) if answer.refused is None]


async def test_opened_by_one_process_is_open_for_the_other(make_backend: MakeBackend) -> None:
    one, two = await make_backend(), await make_backend()
    gate_one, gate_two = one.gate("m", SPEC), two.gate("m", SPEC)
    assert (await gate_two.admit()).refused is None and gate_two.state == CLOSED
    gate_one.record_failure()
    gate_one.record_success()  # consecutive failures only
    gate_one.record_failure()
    await one.flush()
    assert (await gate_two.admit()).refused is None
    gate_one.record_failure()  # the second in a row
    assert gate_one.state == OPEN
    await one.flush()
    refused = await gate_two.admit()
    assert refused.refused == CIRCUIT_OPEN and 0.0 < refused.retry_in <= COOLDOWN
    assert gate_two.state == OPEN


async def test_one_half_open_probe_cluster_wide_then_closed_for_all(
    make_backend: MakeBackend,
) -> None:
    backends = [await make_backend() for _ in range(3)]
    gates = [backend.gate("m", SPEC) for backend in backends]
    gates[0].hold_open(COOLDOWN)
    await backends[0].flush()
    assert await admitted(gates, 4) == []
    await asyncio.sleep(COOLDOWN + 0.05)
    probes = await admitted(gates, 4)
    assert len(probes) == 1  # twelve callers in three processes: one probe
    assert all(gate.state == HALF_OPEN for gate in gates)
    assert await admitted(gates, 2) == []  # the probe is still out
    probes[0].record_success()
    for backend in backends:
        await backend.flush()
    assert len(await admitted(gates, 2)) == 6
    assert all(gate.state == CLOSED for gate in gates)


async def test_a_failed_probe_reopens_and_a_released_one_frees_the_slot(
    make_backend: MakeBackend,
) -> None:
    one, two = await make_backend(), await make_backend()
    gate_one, gate_two = one.gate("m", SPEC), two.gate("m", SPEC)
    gate_one.hold_open(COOLDOWN)
    await one.flush()
    await asyncio.sleep(COOLDOWN + 0.05)
    assert (await gate_one.admit()).refused is None  # the probe
    assert (await gate_two.admit()).refused == CIRCUIT_OPEN
    gate_one.release_probe()  # e.g. the client went away: no verdict
    await one.flush()
    assert (await gate_two.admit()).refused is None  # the probe again, elsewhere
    gate_two.record_failure()  # the probe failed: open for another cooldown, for everyone
    await two.flush()
    refused = await gate_one.admit()
    assert refused.refused == CIRCUIT_OPEN and refused.retry_in > COOLDOWN / 2


async def test_a_probe_whose_process_died_expires(make_backend: MakeBackend) -> None:
    spec = GateSpec(None, None, failure_threshold=1, cooldown=0.2, probe_ttl=0.3)
    one, two = await make_backend(), await make_backend()
    gate_one, gate_two = one.gate("m", spec), two.gate("m", spec)
    gate_one.record_failure()
    await one.flush()
    await asyncio.sleep(0.25)
    assert (await gate_one.admit()).refused is None  # the probe; then process one "dies"
    await one.aclose()
    assert (await gate_two.admit()).refused == CIRCUIT_OPEN
    await asyncio.sleep(0.35)
    assert (await gate_two.admit()).refused is None
