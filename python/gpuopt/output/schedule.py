"""When each period runs in the week: its windows, and the cron schedule on which the exported
CronJobs switch the fleet to it. A plan's periods must tile the week (every minute in exactly one
period) for a schedule to implement it; one period of 24 hours a day, 7 days a week needs none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpuopt.errors import InvalidInputError

MINUTES_PER_WEEK = 7 * 24 * 60
DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")   # cron's day numbers 0-6
# what days_per_week usually means, where a period does not name its days
DEFAULT_DAYS = {7.0: "*", 5.0: "1-5", 2.0: "0,6"}


@dataclass(frozen=True)
class Window:
    """One period's place in the week: the days it begins on, its start and its length."""
    period: str
    days: tuple[int, ...]    # cron day numbers, 0 = Sunday
    start_minute: int        # minutes after midnight
    minutes: int

    @property
    def cron(self) -> str:
        """The cron schedule of its beginnings (minute hour * * days)."""
        days = "*" if len(self.days) == 7 else ",".join(map(str, self.days))
        return f"{self.start_minute % 60} {self.start_minute // 60} * * {days}"


def _days(text: str) -> tuple[int, ...]:
    if text == "*":
        return tuple(range(7))
    out: set[int] = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        lo, hi = int(a), int(b or a)
        if hi < lo:
            raise InvalidInputError(f"days {text!r}: range {part!r} runs backwards")
        out.update(range(lo, hi + 1))
    return tuple(sorted(out))


def _clock(minute: int) -> str:
    return f"{DAY_NAMES[minute // 1440 % 7]} {minute % 1440 // 60:02d}:{minute % 60:02d}"


def static(scenario) -> bool:
    """One period that is always on: nothing to switch."""
    ps = scenario.periods
    return len(ps) == 1 and ps[0].hours == 24 and ps[0].days_per_week == 7


def windows(scenario) -> list[Window]:
    """Each period's window, checked to tile the week; a clear error names the first minute that
    no period or two periods cover."""
    out = []
    for p in scenario.periods:
        if p.start is None:
            raise InvalidInputError(
                f"period {p.name!r} has no start time: with more than one period (or one shorter than the week) "
                "the export switches the fleet by clock, so give each period start: 'HH:MM' (and days where "
                "days_per_week is not 7, 5 or 2)")
        if p.days is None and p.days_per_week not in DEFAULT_DAYS:
            raise InvalidInputError(f"period {p.name!r}: days_per_week {p.days_per_week:g} has no usual days; "
                                    "give days: e.g. '1-3' (cron numbers, 0 = Sunday)")
        days = _days(p.days if p.days is not None else DEFAULT_DAYS[p.days_per_week])
        if len(days) != p.days_per_week:
            raise InvalidInputError(f"period {p.name!r}: days {p.days!r} name {len(days)} days, but days_per_week is "
                                    f"{p.days_per_week:g}")
        minutes = p.hours * 60
        if abs(minutes - round(minutes)) > 1e-6:
            raise InvalidInputError(f"period {p.name!r}: {p.hours:g} hours is not a whole number of minutes")
        hh, mm = map(int, p.start.split(":"))
        out.append(Window(p.name, days, hh * 60 + mm, int(round(minutes))))
    cover = np.zeros(MINUTES_PER_WEEK, dtype=np.int32)
    owner = np.full(MINUTES_PER_WEEK, -1)
    for i, w in enumerate(out):
        for d in w.days:
            at = (d * 1440 + w.start_minute + np.arange(w.minutes)) % MINUTES_PER_WEEK
            twice = at[cover[at] > 0]
            if twice.size:
                raise InvalidInputError(f"periods {out[owner[twice[0]]].period!r} and {w.period!r} overlap at "
                                        f"{_clock(int(twice[0]))} ({scenario.timezone})")
            cover[at] += 1
            owner[at] = i
    gap = np.flatnonzero(cover == 0)
    if gap.size:
        raise InvalidInputError(f"no period covers {_clock(int(gap[0]))} ({scenario.timezone}): the periods cover "
                                f"{(MINUTES_PER_WEEK - gap.size) / 60:g} of the week's 168 hours, and the export "
                                "needs every hour in exactly one period")
    return out


__all__ = ["Window", "static", "windows"]
