"""/metrics and /healthz served over real HTTP on 127.0.0.1 from a real database, bot and manual clock: what an
operator's Prometheus and load balancer would read after commands, sweeps and deliveries, and when work stalls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from adapters.cli import _run
from adapters.metrics_server import metrics_app
from adapters.platform import Platform
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.features import REGISTRY as FEATURES
from bot.health import Limits
from bot.metrics import REGISTRY
from bot.scheduler import Heartbeat
from bot.settings import Settings, SettingsError, load_settings
from testkit.console import SETUP, Script
from testkit.messenger import RecordingMessenger, fail_times
from storage.db import Database
from storage.models import Outbox, Workspace
from tests.slack.conftest import free_port
from tests.test_delivery import NUDGE_AT, PAIRS

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def http(bot: MentorBot) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(metrics_app(bot.health), host="127.0.0.1", port=0)) as client:
        yield client


async def scrape(http: TestClient) -> Samples:
    """Every sample of a /metrics scrape, keyed by name and labels."""
    resp = await http.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def health(http: TestClient) -> tuple[int, dict[str, Any]]:
    resp = await http.get("/healthz")
    return resp.status, await resp.json()


async def paired(run: Script, bot: MentorBot, clock: ManualClock, setup: str = SETUP + PAIRS) -> RecordingMessenger:
    """Two pairs, their intros sent, the clock at the weekly nudge: a recording messenger receives what follows."""
    if setup:
        await run(setup)
    recorder = RecordingMessenger()
    bot.add_messenger(recorder)
    clock.set(NUDGE_AT)
    return recorder


async def test_metrics_show_the_outbox_the_handling_and_the_scheduler(
    run: Script, bot: MentorBot, clock: ManualClock, http: TestClient
) -> None:
    await run(SETUP + PAIRS)
    before = await scrape(http)
    await run("@bob /mentor status")  # the console runs the sweeps and the deliverer after each line too
    recorder = await paired(run, bot, clock, setup="")
    await bot.run_sweeps()  # plans both pairs' nudges; nothing delivers them yet
    planned = await scrape(http)
    pending = value(planned, "mentorbot_outbox_pending", platform="console")
    assert pending >= 2  # a nudge per pair, at least
    assert value(planned, "mentorbot_handle_seconds_count", event="command") == \
        value(before, "mentorbot_handle_seconds_count", event="command") + 1
    for sweep in FEATURES.sweeps:  # the console's tick after the command, and the sweep run above
        assert value(planned, "mentorbot_sweep_seconds_count", sweep=sweep.name) == \
            value(before, "mentorbot_sweep_seconds_count", sweep=sweep.name) + 2
    assert value(planned, "mentorbot_scheduler_last_run_timestamp_seconds", job="sweeps") == NUDGE_AT.timestamp()

    clock.advance(timedelta(seconds=60))  # a minute without delivery: the oldest due row is a minute older
    later = await scrape(http)
    age = value(later, "mentorbot_outbox_oldest_due_age_seconds", platform="console")
    assert age == value(planned, "mentorbot_outbox_oldest_due_age_seconds", platform="console") + 60

    await Heartbeat(bot).deliver_once()  # the scheduler's delivery job, run once by hand
    delivered = await scrape(http)
    assert len(recorder.sent) == pending
    assert value(delivered, "mentorbot_outbox_pending", platform="console") == 0
    assert value(delivered, "mentorbot_outbox_oldest_due_age_seconds", platform="console") == 0
    assert value(delivered, "mentorbot_scheduler_run_seconds_count", job="delivery") == \
        value(later, "mentorbot_scheduler_run_seconds_count", job="delivery") + 1
    assert value(delivered, "mentorbot_scheduler_last_run_timestamp_seconds", job="delivery") == \
        clock.now().timestamp()
    names = {name for name, _ in delivered}
    # The delivery counters are declared whether or not anything was counted yet (the deliverer counts them).
    text = await (await http.get("/metrics")).text()
    for family in ("mentorbot_sends", "mentorbot_send_retries", "mentorbot_send_failures",
                   "mentorbot_sweep_failures"):
        assert f"# TYPE {family}_total counter" in text or f"# TYPE {family} counter" in text
    assert "mentorbot_handle_seconds_bucket" in names


async def test_a_click_is_timed_apart_from_commands(run: Script, bot: MentorBot, http: TestClient) -> None:
    await run(SETUP + PAIRS + f"clock {NUDGE_AT.isoformat()}")  # the console shows the nudges as they go out
    before = await scrape(http)
    await run("@alice click We met")
    after = await scrape(http)
    assert value(after, "mentorbot_handle_seconds_count", event="action") == \
        value(before, "mentorbot_handle_seconds_count", event="action") + 1
    assert value(after, "mentorbot_handle_seconds_count", event="command") == \
        value(before, "mentorbot_handle_seconds_count", event="command")


async def test_healthz_is_ok_after_a_sweep_and_503_when_sweeps_stop(
    bot: MentorBot, clock: ManualClock, http: TestClient
) -> None:
    await bot.run_sweeps()
    status, body = await health(http)
    assert (status, body["status"], body["reasons"]) == (200, "ok", [])
    assert body["scheduler"]["last_sweeps_at"] == clock.now().isoformat()
    assert body["outbox"]["pending"] == 0

    clock.advance(timedelta(seconds=91))  # past 3x the 30 s interval without a sweep run finishing
    status, body = await health(http)
    assert (status, body["status"]) == (503, "stuck")
    assert body["reasons"] == ["no sweep run finished for 91 s (the limit is 90 s, HEALTH_MAX_SWEEP_AGE)"]

    await bot.run_sweeps()
    assert (await health(http))[0] == 200


async def test_healthz_is_503_when_no_sweep_ever_finished(bot: MentorBot, clock: ManualClock,
                                                          http: TestClient) -> None:
    assert (await health(http))[0] == 200  # just started: not yet late
    clock.advance(timedelta(minutes=5))
    status, body = await health(http)
    assert status == 503 and body["scheduler"]["last_sweeps_at"] is None
    assert "no sweep run has finished since start-up 300 s ago" in body["reasons"][0]


async def test_healthz_is_503_while_a_due_message_waits_too_long(
    run: Script, bot: MentorBot, clock: ManualClock, http: TestClient
) -> None:
    recorder = await paired(run, bot, clock)
    bot.health.limits = Limits(outbox_lag=timedelta(minutes=15))
    await bot.run_sweeps()
    lag = (await health(http))[1]["outbox"]["oldest_due_age_seconds"]
    clock.advance(timedelta(minutes=16) - timedelta(seconds=lag))  # sweeps keep running, delivery does not
    await bot.run_sweeps()
    status, body = await health(http)
    assert status == 503
    assert body["outbox"]["oldest_due_age_seconds"] == 960
    assert body["reasons"] == ["the oldest due console message has waited 960 s (the limit is 900 s, "
                               "HEALTH_MAX_OUTBOX_LAG)"]
    assert body["outbox"]["platforms"]["console"]["pending"] == body["outbox"]["pending"] >= 2

    await Heartbeat(bot).deliver_once()
    status, body = await health(http)
    assert (status, body["outbox"]["pending"], body["outbox"]["oldest_due_age_seconds"]) == (200, 0, 0)
    assert body["scheduler"]["last_delivery_at"] == clock.now().isoformat()
    assert recorder.sent


async def test_a_row_waiting_for_its_retry_is_pending_but_not_late(
    run: Script, bot: MentorBot, clock: ManualClock, http: TestClient
) -> None:
    """A send that failed is tried again after a back-off: it counts in the depth, not in the lag, till then."""
    recorder = await paired(run, bot, clock)
    recorder.fail = fail_times(100, retry_after=600)  # every send fails; try again in ten minutes
    await bot.run_sweeps()
    await bot.deliver()
    assert not recorder.sent
    samples = await scrape(http)
    assert value(samples, "mentorbot_outbox_pending", platform="console") >= 2
    assert value(samples, "mentorbot_outbox_oldest_due_age_seconds", platform="console") == 0
    clock.advance(timedelta(seconds=660))  # the retry is due since a minute
    samples = await scrape(http)
    assert value(samples, "mentorbot_outbox_oldest_due_age_seconds", platform="console") == 60


async def test_each_platform_is_counted_and_a_process_judged_by_its_own(
    run: Script, bot: MentorBot, clock: ManualClock, http: TestClient
) -> None:
    """Rows of a platform this process does not deliver show in /metrics but do not make it unhealthy."""
    await paired(run, bot, clock)
    await bot.run_sweeps()
    console = value(await scrape(http), "mentorbot_outbox_pending", platform="console")
    async with bot.db.transaction() as s:
        other = Workspace(platform="discord", external_id="G1")
        s.add(other)
        await s.flush()
        s.add(Outbox(key="elsewhere", kind="nudge", workspace_id=other.id, dest_kind="pair", target="1",  # type: ignore[arg-type]
                     payload={}, next_attempt_at=clock.now() - timedelta(hours=1), created_at=clock.now()))
    samples = await scrape(http)
    assert value(samples, "mentorbot_outbox_pending", platform="discord") == 1
    assert value(samples, "mentorbot_outbox_oldest_due_age_seconds", platform="discord") == 3600
    assert value(samples, "mentorbot_outbox_pending", platform="console") == console
    status, body = await health(http)
    assert status == 200 and body["outbox"]["pending"] == console
    assert body["outbox"]["platforms"]["discord"] == {"pending": 1, "oldest_due_age_seconds": 3600}


async def test_an_unreadable_database_is_unhealthy(tmp_path: Path, clock: ManualClock) -> None:
    broken = MentorBot(Database(f"sqlite+aiosqlite:///{tmp_path}/gone/x.db"), clock)  # a folder that is not there
    before = REGISTRY.get_sample_value("mentorbot_sweep_failures_total", {"sweep": FEATURES.sweeps[0].name}) or 0
    await broken.run_sweeps()  # each sweep fails and is counted; the run itself finishes
    assert REGISTRY.get_sample_value("mentorbot_sweep_failures_total", {"sweep": FEATURES.sweeps[0].name}) == before + 1
    async with TestClient(TestServer(metrics_app(broken.health), host="127.0.0.1", port=0)) as client:
        status, body = await health(client)
        assert status == 503 and body["outbox"] is None
        assert body["reasons"] == ["the database cannot be read (OperationalError)"]
        assert (await client.get("/metrics")).status == 503
    await broken.db.close()


def test_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).metrics_port is None  # type: ignore[call-arg]
    monkeypatch.setenv("METRICS_PORT", "9464")
    monkeypatch.setenv("HEALTH_MAX_OUTBOX_LAG", "300")
    settings = load_settings(env_file=None)
    assert (settings.metrics_port, settings.metrics_host, settings.health_max_outbox_lag) == (9464, "127.0.0.1", 300)
    monkeypatch.setenv("METRICS_PORT", "")
    assert load_settings(env_file=None).metrics_port is None
    monkeypatch.setenv("METRICS_PORT", "70000")
    monkeypatch.setenv("HEALTH_MAX_SWEEP_AGE", "0")
    with pytest.raises(SettingsError) as err:
        load_settings(env_file=None)
    assert str(err.value).splitlines() == [
        "Bad setting METRICS_PORT: expected a TCP port between 1 and 65535, got 70000",
        "Bad setting HEALTH_MAX_SWEEP_AGE: expected a number of seconds above 0, got 0.0"]


async def test_mentorbot_run_serves_metrics_on_metrics_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process without the Slack HTTP server (Discord only, Socket Mode) serves both on METRICS_PORT."""
    listening = asyncio.Event()
    original_start = web.TCPSite.start

    async def start(site: web.TCPSite) -> None:  # tells the test when the port is open, instead of polling
        await original_start(site)
        listening.set()

    async def serve(bot: MentorBot, _: object) -> None:  # a platform that only registers its messenger
        bot.add_messenger(RecordingMessenger())
        await asyncio.Event().wait()

    monkeypatch.setattr(web.TCPSite, "start", start)
    port = free_port()
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/run.db",  # type: ignore[call-arg]
                        metrics_port=port, health_max_outbox_lag=120)
    quiet = Platform("console", lambda _: None, serve, None, None)  # type: ignore[arg-type]
    running = asyncio.create_task(_run(settings, [(quiet, object())]))
    try:
        await asyncio.wait_for(listening.wait(), timeout=30)  # a guard against a hang, not a sleep
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 200 and body["outbox"]["max_oldest_due_age_seconds"] == 120
            async with client.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 200
                assert 'mentorbot_outbox_pending{platform="console"} 0.0' in await resp.text()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
