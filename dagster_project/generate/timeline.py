"""The simulated calendar: days, weekly and yearly seasonality, holidays, trend, and the monthly
"system factors" (site speed, response time) that explain missed targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

MS_PER_DAY = 86_400_000
EPOCH = date(1970, 1, 1)

# Monday..Sunday traffic for a B2B site: weekdays carry the load, weekends drop by ~40%.
WEEKDAY_FACTOR = np.array([1.08, 1.12, 1.12, 1.08, 0.95, 0.58, 0.55])
TREND_PER_YEAR = 0.12  # slow growth of the business
SUMMER_DIP = 0.06  # amplitude of the yearly cycle, lowest in early August


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th (1-based; -1 = last) `weekday` (Mon=0) of a month."""
    if n > 0:
        d = date(year, month, 1)
        d += timedelta(days=(weekday - d.weekday()) % 7)
        return d + timedelta(weeks=n - 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


def holidays(year: int) -> dict[date, float]:
    """Days with unusually low B2B traffic and how much of a normal day is left."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    out = {
        date(year, 1, 1): 0.45,
        _nth_weekday(year, 5, 0, -1): 0.55,  # Memorial Day
        date(year, 7, 4): 0.5,
        _nth_weekday(year, 9, 0, 1): 0.55,  # Labor Day
        thanksgiving: 0.45,
        thanksgiving + timedelta(days=1): 0.6,
        date(year, 12, 24): 0.5,
        date(year, 12, 25): 0.4,
        date(year, 12, 26): 0.6,
        date(year, 12, 31): 0.55,
    }
    for d in range(27, 31):
        out.setdefault(date(year, 12, d), 0.75)
    return out


@dataclass
class Timeline:
    """Days simulated (burn-in + window) and per-day factors; index 0 is `sim_start`."""

    sim_start: date
    start: date  # first day written to the landing zone
    end: date
    dates: list[date] = field(init=False)
    day_ms: np.ndarray = field(init=False)  # epoch ms at 00:00 UTC
    weekday: np.ndarray = field(init=False)
    holiday: np.ndarray = field(init=False)  # traffic left on the day (1.0 = normal)
    month_index: np.ndarray = field(init=False)  # months since sim_start's month

    def __post_init__(self) -> None:
        n = (self.end - self.sim_start).days + 1
        self.dates = [self.sim_start + timedelta(days=i) for i in range(n)]
        first = (self.sim_start - EPOCH).days
        self.day_ms = (np.arange(first, first + n, dtype=np.int64)) * MS_PER_DAY
        self.weekday = np.array([d.weekday() for d in self.dates], dtype=np.int8)
        hol: dict[date, float] = {}
        for y in range(self.sim_start.year, self.end.year + 1):
            hol.update(holidays(y))
        self.holiday = np.array([hol.get(d, 1.0) for d in self.dates])
        base = self.sim_start.year * 12 + self.sim_start.month - 1
        self.month_index = np.array([d.year * 12 + d.month - 1 - base for d in self.dates])

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def window_offset(self) -> int:
        """Index of `start`: days before it are burn-in, simulated but not written."""
        return (self.start - self.sim_start).days

    @property
    def n_months(self) -> int:
        return int(self.month_index[-1]) + 1

    def month_start(self, m: int) -> date:
        y, mo = divmod(self.sim_start.year * 12 + self.sim_start.month - 1 + m, 12)
        return date(y, mo + 1, 1)

    def index(self, d: date) -> int:
        return (d - self.sim_start).days

    def trend(self) -> np.ndarray:
        """Slow growth times a yearly cycle, equal to 1.0 on average over the window."""
        t = np.arange(self.n_days) / 365.0
        doy = np.array([d.timetuple().tm_yday for d in self.dates])
        yearly = 1.0 - SUMMER_DIP * np.cos(2 * np.pi * (doy - 35) / 365.0)
        f = (1.0 + TREND_PER_YEAR * t) * yearly
        return f / f[self.window_offset :].mean()

    def traffic_factor(self) -> np.ndarray:
        """Expected traffic relative to an average day of the window."""
        f = self.trend() * WEEKDAY_FACTOR[self.weekday] * self.holiday
        return f / f[self.window_offset :].mean()


def system_factors(tl: Timeline, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per month: site slowness (page load multiplier) and CRM response-time multiplier.

    A few months are bad on purpose (a slow release, an understaffed inbox), so a missed target
    has a system cause for the explanation to find.
    """
    n = tl.n_months
    speed = np.exp(rng.normal(0.0, 0.08, n))
    response = np.exp(rng.normal(0.0, 0.15, n))
    bad = rng.choice(n, size=max(1, n // 5), replace=False)
    speed[bad[: len(bad) // 2 + 1]] *= 1.35
    response[bad[len(bad) // 2 :]] *= 1.8
    return {"page_load": speed, "response": response}


def fx_eur(tl: Timeline, rng: np.random.Generator) -> np.ndarray:
    """USD per EUR for every simulated day: mean-reverting walk kept within 1.05-1.15."""
    out = np.empty(tl.n_days)
    x = 1.09 + rng.normal(0, 0.01)
    for i in range(tl.n_days):
        x += 0.04 * (1.10 - x) + rng.normal(0.0, 0.004)
        x = min(max(x, 1.05), 1.15)
        out[i] = x
    return np.round(out, 4)
