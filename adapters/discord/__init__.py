"""The Discord adapter: mentorbot inside Discord servers, with discord.py."""

from __future__ import annotations

from adapters.discord.client import serve
from adapters.discord.doctor import doctor
from adapters.discord.people import open_people
from adapters.discord.settings import load
from adapters.platform import Platform

PLATFORM = Platform(name="discord", load=load, serve=serve, doctor=doctor, people=open_people)
