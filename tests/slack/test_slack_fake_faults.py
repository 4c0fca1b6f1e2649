"""The fake Slack's random faults (bench/chaos.py): off by default; when on, a seeded share of posts fails
with 429 and Retry-After, 500 or a proxy's HTML 502, and a failed post is not posted."""

from __future__ import annotations

from collections import Counter

from aiohttp import ClientSession

from testkit.fake_slack import FakeSlack, RandomFaults


async def _post_many(fake: FakeSlack, n: int) -> Counter[tuple[int, str]]:
    api = await fake.start()
    seen: Counter[tuple[int, str]] = Counter()
    try:
        async with ClientSession() as http:
            for i in range(n):
                async with http.post(api + "chat.postMessage", json={"channel": f"G{i}", "text": "hi"}) as resp:
                    seen[(resp.status, resp.headers.get("Retry-After", "") + resp.content_type)] += 1
    finally:
        await fake.stop()
    return seen


async def test_no_faults_unless_asked() -> None:
    fake = FakeSlack()
    seen = await _post_many(fake, 50)
    assert seen == Counter({(200, "application/json"): 50}) and len(fake.messages) == 50


async def test_random_faults_fail_a_share_of_posts_and_post_nothing_for_them() -> None:
    fake = FakeSlack(chaos=RandomFaults(rate_limited=0.2, server_error=0.05, retry_after=1.0, seed=3))
    seen = await _post_many(fake, 400)
    ok = seen[(200, "application/json")]
    limited = seen[(429, "1.0application/json")]
    errors = seen[(500, "application/json")] + seen[(502, "text/html")]
    assert ok + limited + errors == 400, seen
    assert 50 <= limited <= 110 and 5 <= errors <= 40 and seen[(502, "text/html")] > 0
    assert len(fake.messages) == ok and fake.chaos is not None and fake.chaos.injected == limited + errors
    again = FakeSlack(chaos=RandomFaults(rate_limited=0.2, server_error=0.05, retry_after=1.0, seed=3))
    assert await _post_many(again, 400) == seen, "a seed repeats the same faults"
