"""Time-zone names as people type them: the IANA spelling to store, and what to suggest instead of an
abbreviation or a fixed offset (which never follows daylight saving)."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from bot.errors import UserError

# A region zone people in each place use. Names only: the reply text lives in prompts/.
_ABBREVIATIONS = {
    "EST": "America/New_York", "EDT": "America/New_York", "CST": "America/Chicago", "CDT": "America/Chicago",
    "MST": "America/Denver", "MDT": "America/Denver", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage", "AKDT": "America/Anchorage", "HST": "Pacific/Honolulu",
    "BRT": "America/Sao_Paulo", "ART": "America/Argentina/Buenos_Aires",
    "GMT": "Europe/London", "BST": "Europe/London", "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon",
    "CET": "Europe/Berlin", "CEST": "Europe/Berlin", "MET": "Europe/Berlin", "EET": "Europe/Athens",
    "EEST": "Europe/Athens", "MSK": "Europe/Moscow", "WAT": "Africa/Lagos", "CAT": "Africa/Maputo",
    "EAT": "Africa/Nairobi", "SAST": "Africa/Johannesburg", "IST": "Asia/Kolkata", "PKT": "Asia/Karachi",
    "WIB": "Asia/Jakarta", "SGT": "Asia/Singapore", "HKT": "Asia/Hong_Kong", "PHT": "Asia/Manila",
    "KST": "Asia/Seoul", "JST": "Asia/Tokyo", "AWST": "Australia/Perth", "ACST": "Australia/Adelaide",
    "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney", "NZST": "Pacific/Auckland", "NZDT": "Pacific/Auckland",
}
_BY_OFFSET = {
    -11: "Pacific/Pago_Pago", -10: "Pacific/Honolulu", -9: "America/Anchorage", -8: "America/Los_Angeles",
    -7: "America/Denver", -6: "America/Chicago", -5: "America/New_York", -4: "America/Halifax",
    -3: "America/Sao_Paulo", -2: "Atlantic/South_Georgia", -1: "Atlantic/Azores", 0: "Europe/London",
    1: "Europe/Berlin", 2: "Europe/Athens", 3: "Europe/Moscow", 4: "Asia/Dubai", 5: "Asia/Karachi",
    6: "Asia/Dhaka", 7: "Asia/Bangkok", 8: "Asia/Singapore", 9: "Asia/Tokyo", 10: "Australia/Sydney",
    11: "Pacific/Noumea", 12: "Pacific/Auckland", 13: "Pacific/Tongatapu", 14: "Pacific/Kiritimati",
}
# Etc/GMT+5 is UTC-5: POSIX inverts the sign, which is why these names are refused.
_ETC = re.compile(r"etc/gmt([+-])(\d{1,2})", re.IGNORECASE)
_OFFSET = re.compile(r"(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?00)?", re.IGNORECASE)


@cache
def names() -> tuple[str, ...]:
    """Every zone a person may choose: region zones (Europe/Berlin) and UTC, sorted."""
    return tuple(sorted(z for z in zoneinfo.available_timezones()
                        if ("/" in z and not z.lower().startswith(("etc/", "posix/", "right/"))) or z == "UTC"))


@cache
def _by_lower() -> dict[str, str]:
    table = {z.lower(): z for z in names()}
    table["etc/utc"] = table["utc"] = "UTC"
    return table


def canonical(text: str) -> str | None:
    """The IANA spelling of a zone typed in any case (`europe/paris` -> Europe/Paris), or None."""
    return _by_lower().get(text.strip().replace(" ", "_").lower())


def _refusal(text: str) -> UserError:
    """The reply telling someone which zone to type instead of `text`."""
    typed = text.strip()
    if (m := _ETC.fullmatch(typed)) is not None:
        hours = int(m.group(2)) * (-1 if m.group(1) == "+" else 1)
        return UserError("error.tz_etc", tz=typed, offset=f"UTC{hours:+d}", suggest=_BY_OFFSET.get(hours, "UTC"))
    if (m := _OFFSET.fullmatch(typed)) is not None:
        hours = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
        return UserError("error.tz_offset", tz=typed, suggest=_BY_OFFSET.get(hours, "UTC"))
    if (region := _ABBREVIATIONS.get(typed.upper())) is not None:
        return UserError("error.tz_abbreviation", tz=typed, suggest=region)
    return UserError("error.bad_tz", tz=typed)


def read(text: str) -> str:
    """The IANA zone a person meant, or a UserError telling them what to type instead."""
    zone_name = canonical(text)
    if zone_name is None:
        raise _refusal(text)
    return zone_name
