"""mentorbot's testing kit: local fakes of each platform and helpers to drive the bot, shared by tests/ and bench/.

- `testkit.fake_slack`: a fake Slack Web API and Socket Mode WebSocket on 127.0.0.1 (`FakeSlack`), and
  `signed_headers` to sign requests the way Slack does.
- `testkit.fake_discord`: a fake Discord REST API and gateway on 127.0.0.1 (`FakeDiscord`).
- `testkit.messenger`: `RecordingMessenger`, a Messenger that records every send and edit, and `fail_times`.
- `testkit.console`: `Script`, which runs console lines and returns what they printed; `SETUP`, `START`.

Nothing here needs pytest. A new platform's tests add `testkit/fake_<platform>.py` (the platform's API on
127.0.0.1, recording calls and able to fail them), point the real SDK at it in `tests/<platform>/conftest.py`
fixtures, and use `RecordingMessenger`/`Script` for the parts that do not go through the platform.
The product code (adapters/, bot/, storage/) never imports testkit."""
