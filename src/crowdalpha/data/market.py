"""The market simulator: a stock market that streams forward one trading day at a time.

Stocks carry a sector, a country (and its currency), a market beta and style
exposures that drift slowly; they list and delist. Each day's return is

    beta * market + sector + country + currency + styles . style_returns
    + alpha + idiosyncratic noise

where *alpha* comes from hidden stock characteristics whose payoff drifts and
changes with the regime (calm, boom, crash, high dispersion): a small part of
forward residual returns that good models can find. Every ``era_spacing``
days is an era: a snapshot of the universe from which the observed raw
features (see :mod:`crowdalpha.data.rawfeatures`) and, once the horizon has
passed, the forward returns and targets are made.

Every random draw is keyed by (seed, branch, purpose, day or era), so a
simulator replayed to the same day gives the same market, whatever was asked
of it on the way.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from crowdalpha.data.rawfeatures import (
    TRAILING_WINDOWS,
    FeatureDesign,
    SourceLayout,
    apply_transforms,
    design_features,
)
from crowdalpha.data.schema import EraData
from crowdalpha.data.targets import DEFAULT_TARGETS, TargetSpec, make_targets
from crowdalpha.errors import ConfigError, DataError
from crowdalpha.scoring.kernels import gaussian_rank_rows

#: The market regimes, in the order of the transition matrix.
REGIMES = ("calm", "boom", "crash", "high_dispersion")

#: First trading day of the simulated calendar.
START_DATE = np.datetime64("2010-01-04")

STYLE_NAMES = ("value", "momentum", "size", "quality", "volatility", "growth", "leverage", "yield")


@dataclass(frozen=True)
class RegimeParams:
    """How a regime moves the market (daily figures)."""

    market_drift: float
    market_vol: float
    idio_vol: float  # multiplier of every stock's idiosyncratic volatility
    factor_vol: float  # multiplier of sector, country, currency and style volatility
    factor_sign: float  # +1, or -1 when style factor premia reverse
    alpha: float  # multiplier of the hidden alpha's strength
    alpha_flip: float  # share of alpha characteristics whose payoff flips sign
    risky: float  # signed multiplier of the risky characteristics' payoff
    vol_level: float  # where the volatility index is pulled to
    delist: float  # multiplier of the delisting rate


DEFAULT_REGIMES: dict[str, RegimeParams] = {
    "calm": RegimeParams(0.0004, 0.008, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 14.0, 1.0),
    "boom": RegimeParams(0.0009, 0.007, 0.9, 0.9, 1.0, 1.0, 0.0, 1.4, 12.0, 0.8),
    "crash": RegimeParams(-0.006, 0.028, 1.8, 2.5, -1.0, 0.7, 0.5, -3.0, 42.0, 2.0),
    "high_dispersion": RegimeParams(0.0002, 0.012, 1.6, 1.5, 1.0, 1.4, 0.0, 0.5, 24.0, 1.2),
}

#: Era-to-era regime transition probabilities (rows: from, columns: to, order of REGIMES).
DEFAULT_TRANSITIONS: tuple[tuple[float, ...], ...] = (
    (0.935, 0.030, 0.012, 0.023),
    (0.080, 0.880, 0.020, 0.020),
    (0.170, 0.000, 0.750, 0.080),
    (0.120, 0.020, 0.030, 0.830),
)


@dataclass(frozen=True)
class MarketConfig:
    """Shape and dynamics of a simulated market. Defaults: a mid-size market."""

    n_stocks: int = 2000
    n_features: int = 300
    n_groups: int = 8
    n_sectors: int = 11
    n_countries: int = 8
    n_currencies: int = 5
    n_styles: int = 6
    n_alpha: int = 12  # hidden alpha characteristics
    n_risky: int = 3  # characteristics whose payoff flips in crashes
    n_nuisance: int = 6  # characteristics that pay nothing (useless features)
    era_spacing: int = 5  # trading days between eras (weekly)
    lag: int = 2  # trading days between an era's date and the start of its horizons
    horizons: tuple[int, ...] = (20, 60)
    burn_in_days: int = 60
    alpha_ic: float = 0.058  # correlation of the hidden alpha with 20-day residual returns
    risky_ic: float = 0.04  # same for the risky characteristics in calm markets
    alpha_drift: float = 0.6  # drift of the alpha direction, relative to its size
    alpha_drift_halflife: float = 40.0  # eras
    strength_vol: float = 0.35  # era-to-era variation of the alpha's strength
    strength_halflife: float = 4.0  # eras
    idio_vol: float = 0.02  # daily idiosyncratic volatility of a typical stock
    latent_halflife: float = 250.0  # trading days
    exposure_halflife: float = 500.0  # trading days
    delist_rate: float = 1 / 2500  # per stock per day
    feature_noise: tuple[float, float] = (1.0, 3.0)
    keep_eras: int = 16  # era snapshots kept for late targets
    regimes: Mapping[str, RegimeParams] = field(default_factory=lambda: dict(DEFAULT_REGIMES))
    transitions: tuple[tuple[float, ...], ...] = DEFAULT_TRANSITIONS
    targets: tuple[TargetSpec, ...] = DEFAULT_TARGETS

    def validate(self) -> None:
        """Raise ``ConfigError`` naming every impossible setting."""
        problems = []
        if self.n_stocks < 50:
            problems.append(f"n_stocks={self.n_stocks} (< 50)")
        if self.n_features < self.n_groups or self.n_groups < 1:
            problems.append(f"n_features={self.n_features} with n_groups={self.n_groups}")
        if self.era_spacing < 1 or self.lag < 0:
            problems.append(f"era_spacing={self.era_spacing}, lag={self.lag}")
        if not self.horizons or min(self.horizons) < 1:
            problems.append(f"horizons={self.horizons}")
        missing = [t.horizon for t in self.targets if t.horizon not in self.horizons]
        if missing:
            problems.append(f"targets use horizons {missing} not in horizons={self.horizons}")
        needed = math.ceil((self.lag + max(self.horizons, default=0)) / self.era_spacing) + 1
        if self.keep_eras < needed:
            problems.append(f"keep_eras={self.keep_eras} (needs >= {needed} for the longest horizon)")
        if set(self.regimes) != set(REGIMES):
            problems.append(f"regimes={sorted(self.regimes)} (need {list(REGIMES)})")
        matrix = np.asarray(self.transitions, dtype=float)
        if matrix.shape != (len(REGIMES), len(REGIMES)) or not np.allclose(matrix.sum(axis=1), 1):
            problems.append("transitions must be a 4x4 matrix whose rows sum to 1")
        if min(self.n_alpha, self.n_risky, self.n_nuisance, self.n_styles) < 1:
            problems.append("n_alpha, n_risky, n_nuisance and n_styles must be >= 1")
        if problems:
            raise ConfigError("market config: " + "; ".join(problems))

    @property
    def style_names(self) -> tuple[str, ...]:
        extra = tuple(f"style{i}" for i in range(len(STYLE_NAMES), self.n_styles))
        return (STYLE_NAMES + extra)[: self.n_styles]

    @property
    def max_horizon(self) -> int:
        return max(self.horizons)


@dataclass
class _Snapshot:
    """The universe on an era's date: what features and targets are made from."""

    era: int
    day: int
    slots: np.ndarray
    beta: np.ndarray
    styles: np.ndarray
    sector: np.ndarray
    country: np.ndarray
    currency: np.ndarray
    latents: np.ndarray
    trailing: np.ndarray  # (n, len(TRAILING_WINDOWS)) trailing log returns
    regime: str


class MarketSimulator:
    """A deterministic market that streams forward day by day.

    ``advance_day()`` simulates one trading day; ``next_era()`` runs to the next
    era date and returns that era's raw panel (features and exposures, no
    returns yet); ``targets_for_era(era, day)`` gives the targets as resolved
    ``day`` trading days into the horizon. ``scenario_eras`` makes virtual
    eras in a forced regime for stress tests, without moving this simulator.
    """

    def __init__(self, config: MarketConfig | None = None, seed: int = 0) -> None:
        self.config = config or MarketConfig()
        self.config.validate()
        self.seed = int(seed)
        self._branch = 0
        self._forced: str | None = None
        c = self.config
        self.layout = SourceLayout(c.n_alpha, c.n_risky, c.n_nuisance, c.n_styles)
        init = self._rng("init", 0)
        self.design: FeatureDesign = design_features(c.n_features, c.n_groups, self.layout,
                                                     c.feature_noise, init)
        self._w_base = _unit(init.normal(size=c.n_alpha))
        self._w_risky = _unit(np.abs(init.normal(size=c.n_risky)) + 0.5)
        self._flip = np.zeros(c.n_alpha, dtype=bool)
        self._style_premia = init.normal(scale=0.0002, size=c.n_styles)
        self._w_drift = np.zeros(c.n_alpha)
        self._strength = 1.0
        self.regime = "calm"
        self._var = (DEFAULT_REGIMES["calm"].market_vol) ** 2
        self.day = 0
        # per-stock state, by slot (slots only grow; a delisted slot stays dead)
        self._alive = np.zeros(0, dtype=bool)
        self._sector = np.zeros(0, dtype=np.int16)
        self._country = np.zeros(0, dtype=np.int16)
        self._beta = np.zeros(0)
        self._styles = np.zeros((0, c.n_styles))
        self._latents = np.zeros((0, self.layout.n_alpha + c.n_risky + c.n_nuisance))
        self._sigma = np.zeros(0)
        self._persistent = np.zeros((0, c.n_features), dtype=np.float32)
        self._returns: dict[int, np.ndarray] = {}  # day -> log returns by slot (NaN: not listed)
        self._vol_index: dict[int, float] = {}
        self._regimes: dict[int, str] = {}
        self._snapshots: dict[int, _Snapshot] = {}
        self._list_stocks(c.n_stocks, init)
        while self.day < c.burn_in_days:
            self.advance_day()

    # ------------------------------------------------------------------ randomness

    def _rng(self, purpose: str, key: int) -> np.random.Generator:
        """A generator keyed by seed, branch, purpose and day/era: order-independent draws."""
        tag = zlib.crc32(purpose.encode())
        return np.random.default_rng([self.seed, self._branch, tag, int(key)])

    # ------------------------------------------------------------------ calendar

    def era_day(self, era: int) -> int:
        """The trading day on which era ``era`` (1-based) is observed."""
        return self.config.burn_in_days + era * self.config.era_spacing

    @property
    def era(self) -> int:
        """The newest era observed so far (0 before the first)."""
        return max(0, (self.day - self.config.burn_in_days) // self.config.era_spacing)

    def date_of(self, day: int) -> np.datetime64:
        """Calendar date (business days from 2010-01-04) of a trading day."""
        return np.busday_offset(START_DATE, day, roll="forward")

    def resolve_day(self, era: int, horizon: int | None = None) -> int:
        """The day on which ``era``'s ``horizon`` (default: the main one) is fully known."""
        h = self.config.targets[0].horizon if horizon is None else horizon
        return self.era_day(era) + self.config.lag + h

    # ------------------------------------------------------------------ stepping

    def advance_day(self) -> None:
        """Simulate the next trading day: universe, drift, factor and stock returns."""
        c = self.config
        t = self.day + 1
        rng = self._rng("day", t)
        if (t - 1) % c.era_spacing == 0:
            self._new_period(t)
        params = c.regimes[self.regime]
        self._universe_step(rng, params)
        idx = np.flatnonzero(self._alive)
        n = len(idx)
        self._drift_step(rng, idx)
        market = params.market_drift + params.market_vol * rng.normal()
        sector_ret = 0.006 * params.factor_vol * rng.normal(size=c.n_sectors)
        country_ret = 0.005 * params.factor_vol * rng.normal(size=c.n_countries)
        currency_ret = 0.004 * params.factor_vol * rng.normal(size=c.n_currencies)
        style_ret = (params.factor_sign * self._style_premia
                     + 0.004 * params.factor_vol * rng.normal(size=c.n_styles))
        latents = self._latents[idx]
        la = latents[:, : c.n_alpha]
        lr = latents[:, c.n_alpha : c.n_alpha + c.n_risky]
        scale = c.idio_vol / math.sqrt(c.targets[0].horizon)
        w = (self._w_base + self._w_drift) * np.where(self._flip, -1.0, 1.0)
        alpha = (c.alpha_ic * scale * params.alpha * self._strength) * (la @ w)
        alpha += (c.risky_ic * scale * params.risky) * (lr @ self._w_risky)
        returns = (self._beta[idx] * market
                   + sector_ret[self._sector[idx]]
                   + country_ret[self._country[idx]]
                   + currency_ret[self._currency_of(self._country[idx])]
                   + self._styles[idx] @ style_ret
                   + alpha
                   + self._sigma[idx] * params.idio_vol * rng.normal(size=n))
        day_returns = np.full(len(self._alive), np.nan, dtype=np.float32)
        day_returns[idx] = np.log1p(np.maximum(returns, -0.95))
        self._returns[t] = day_returns
        self._var = 0.94 * self._var + 0.06 * market**2
        realized = 100 * math.sqrt(252 * self._var)
        self._vol_index[t] = float(0.6 * realized + 0.4 * params.vol_level + rng.normal(scale=0.5))
        self._regimes[t] = self.regime
        self.day = t
        if t > c.burn_in_days and (t - c.burn_in_days) % c.era_spacing == 0:
            self._snapshot((t - c.burn_in_days) // c.era_spacing)
        self._prune()

    def advance_to(self, day: int) -> None:
        """Simulate until trading day ``day`` (no-op if already there)."""
        while self.day < day:
            self.advance_day()

    def force_regime(self, kind: str | None) -> None:
        """Hold the market in regime ``kind`` from the next era boundary on
        (``None`` lets the regime chain run freely again)."""
        if kind is not None and kind not in REGIMES:
            raise ConfigError(f"regime {kind!r} is not one of {', '.join(REGIMES)}")
        self._forced = kind

    def next_era(self) -> pd.DataFrame:
        """Run to the next era's date and return its raw panel (no forward returns yet)."""
        era = self.era + 1
        self.advance_to(self.era_day(era))
        return self.era_data(era).to_frame(self.design.names)

    def _new_period(self, t: int) -> None:
        """At an era boundary: next regime, alpha drift and strength."""
        c = self.config
        rng = self._rng("period", t)
        if self._forced is not None:
            self.regime = self._forced
        elif t > 1:
            row = np.asarray(c.transitions[REGIMES.index(self.regime)], dtype=float)
            self.regime = REGIMES[int(rng.choice(len(REGIMES), p=row / row.sum()))]
        phi = 0.5 ** (1 / c.alpha_drift_halflife)
        sd = c.alpha_drift / math.sqrt(c.n_alpha)
        self._w_drift = phi * self._w_drift + math.sqrt(1 - phi**2) * sd * rng.normal(size=c.n_alpha)
        phi_s = 0.5 ** (1 / c.strength_halflife)
        self._strength = 1 + phi_s * (self._strength - 1) + math.sqrt(1 - phi_s**2) * c.strength_vol * rng.normal()
        flips = round(c.regimes[self.regime].alpha_flip * c.n_alpha)
        self._flip = np.zeros(c.n_alpha, dtype=bool)
        self._flip[: int(flips)] = True

    def _currency_of(self, country: np.ndarray) -> np.ndarray:
        """Countries beyond the number of currencies share the last one (a currency union)."""
        return np.minimum(country, self.config.n_currencies - 1)

    def _list_stocks(self, count: int, rng: np.random.Generator) -> None:
        c = self.config
        if count <= 0:
            return
        country_weights = 1.0 / np.arange(1, c.n_countries + 1) ** 0.8
        self._alive = np.append(self._alive, np.ones(count, dtype=bool))
        self._sector = np.append(self._sector, rng.integers(0, c.n_sectors, count).astype(np.int16))
        self._country = np.append(self._country, rng.choice(
            c.n_countries, size=count, p=country_weights / country_weights.sum()).astype(np.int16))
        self._beta = np.append(self._beta, np.clip(rng.normal(1.0, 0.3, count), 0.2, 2.5))
        self._styles = np.vstack([self._styles, rng.normal(size=(count, c.n_styles))])
        self._latents = np.vstack([self._latents, rng.normal(size=(count, self._latents.shape[1]))])
        self._sigma = np.append(self._sigma, c.idio_vol * np.exp(rng.normal(-0.06, 0.35, count)))

    def _universe_step(self, rng: np.random.Generator, params: RegimeParams) -> None:
        c = self.config
        idx = np.flatnonzero(self._alive)
        leaving = idx[rng.random(len(idx)) < c.delist_rate * params.delist]
        self._alive[leaving] = False
        n_alive = len(idx) - len(leaving)
        expected = c.delist_rate * c.n_stocks + 0.01 * max(0, c.n_stocks - n_alive)
        self._list_stocks(int(rng.poisson(expected)), rng)

    def _drift_step(self, rng: np.random.Generator, idx: np.ndarray) -> None:
        c = self.config
        phi_l = 0.5 ** (1 / c.latent_halflife)
        phi_e = 0.5 ** (1 / c.exposure_halflife)
        n = len(idx)
        self._latents[idx] = (phi_l * self._latents[idx]
                              + math.sqrt(1 - phi_l**2) * rng.normal(size=(n, self._latents.shape[1])))
        self._styles[idx] = phi_e * self._styles[idx] + math.sqrt(1 - phi_e**2) * rng.normal(size=(n, c.n_styles))
        self._beta[idx] = 1 + phi_e * (self._beta[idx] - 1) + math.sqrt(1 - phi_e**2) * 0.3 * rng.normal(size=n)

    def _trailing(self, idx: np.ndarray) -> np.ndarray:
        """Trailing log returns of stocks ``idx`` over each window (missing days count 0)."""
        out = np.zeros((len(idx), len(TRAILING_WINDOWS)))
        total = np.zeros(len(idx))
        for back in range(max(TRAILING_WINDOWS)):
            day_returns = self._returns.get(self.day - back)
            if day_returns is not None:
                known = idx < len(day_returns)
                total[known] += np.nan_to_num(day_returns[idx[known]])
            for w, window in enumerate(TRAILING_WINDOWS):
                if back + 1 == window:
                    out[:, w] = total
        return out

    def _snapshot(self, era: int) -> None:
        idx = np.flatnonzero(self._alive)
        self._snapshots[era] = _Snapshot(
            era=era, day=self.day, slots=idx, beta=self._beta[idx].copy(),
            styles=self._styles[idx].copy(), sector=self._sector[idx].copy(),
            country=self._country[idx].copy(), currency=self._currency_of(self._country[idx]),
            latents=self._latents[idx].copy(), trailing=self._trailing(idx), regime=self.regime)

    def _prune(self) -> None:
        c = self.config
        oldest_era = self.era - c.keep_eras
        for era in [e for e in self._snapshots if e <= oldest_era]:
            del self._snapshots[era]
        keep_from = min(self.day - max(TRAILING_WINDOWS),
                        self.era_day(max(oldest_era + 1, 1)))
        for day in [d for d in self._returns if d < keep_from]:
            del self._returns[day]

    # ------------------------------------------------------------------ observing

    def vol_index(self) -> pd.Series:
        """The volatility index, one value per simulated trading day (by date)."""
        days = sorted(self._vol_index)
        return pd.Series([self._vol_index[d] for d in days],
                         index=pd.DatetimeIndex([self.date_of(d) for d in days], name="date"),
                         name="vol_index")

    def regimes(self) -> pd.Series:
        """The regime in force on each simulated trading day (by day number)."""
        return pd.Series(self._regimes, name="regime").rename_axis("day")

    def _get_snapshot(self, era: int) -> _Snapshot:
        if era not in self._snapshots:
            if era > self.era:
                raise DataError(f"era {era} is not observed yet (the simulator is at era {self.era}, "
                                f"day {self.day})")
            raise DataError(f"era {era} is older than the {self.config.keep_eras} eras the simulator "
                            "keeps (MarketConfig.keep_eras)")
        return self._snapshots[era]

    def _features(self, snap: _Snapshot) -> np.ndarray:
        """Raw features (n, f) float32 of an era's universe."""
        c = self.config
        sources = np.hstack([snap.latents, snap.styles, snap.beta[:, None], snap.trailing])
        sources = gaussian_rank_rows(sources.T).T.astype(np.float32)
        z = sources @ self.design.coef
        apply_transforms(z, self.design.transform)
        self._ensure_persistent(int(snap.slots.max()) + 1 if len(snap.slots) else 0)
        rng = self._rng("features", snap.era)
        fresh = rng.standard_normal((len(snap.slots), c.n_features), dtype=np.float32)
        rho = self.design.persistence
        noise = rho * self._persistent[snap.slots] + np.sqrt(1 - rho**2) * fresh
        noise *= self.design.noise
        z += noise
        return z

    def _ensure_persistent(self, slots: int) -> None:
        """Per-stock persistent feature noise, drawn by slot so replays agree."""
        have = self._persistent.shape[0]
        if slots <= have:
            return
        rows = [np.random.default_rng([self.seed, zlib.crc32(b"persistent"), s])
                .standard_normal(self.config.n_features, dtype=np.float32) for s in range(have, slots)]
        self._persistent = np.vstack([self._persistent, *rows])

    def forward_returns(self, era: int, horizon: int, days: int | None = None) -> np.ndarray:
        """Log returns of ``era``'s stocks over the first ``days`` (default: all
        ``horizon``) days of the horizon after the lag; NaN while not all known.

        A stock that delists during the horizon earns nothing after it.
        """
        snap = self._get_snapshot(era)
        days = horizon if days is None else min(days, horizon)
        start = snap.day + self.config.lag
        if start + days > self.day:
            return np.full(len(snap.slots), np.nan)
        total = np.zeros(len(snap.slots))
        for d in range(start + 1, start + days + 1):
            day_returns = self._returns[d]
            total += np.nan_to_num(day_returns[snap.slots])
        return total

    def era_data(self, era: int, *, with_features: bool = True) -> EraData:
        """Era ``era`` as arrays: features, exposures, and the forward returns known now."""
        snap = self._get_snapshot(era)
        c = self.config
        features = self._features(snap) if with_features else np.empty((len(snap.slots), 0), np.float32)
        return EraData(
            era=era,
            date=self.date_of(snap.day),
            stock_ids=np.array([f"S{s:06d}" for s in snap.slots], dtype=object),
            features=features,
            forward_returns={h: self.forward_returns(era, h) for h in c.horizons},
            risk={"beta": snap.beta, **{name: snap.styles[:, k] for k, name in enumerate(c.style_names)}},
            categories={"sector": np.array([f"SEC{s:02d}" for s in snap.sector], dtype=object),
                        "country": np.array([f"CTY{s:02d}" for s in snap.country], dtype=object),
                        "currency": np.array([f"CUR{s:02d}" for s in snap.currency], dtype=object)},
            regime=snap.regime,
        )

    def era_panel(self, era: int) -> pd.DataFrame:
        """Era ``era``'s raw panel rows (schema: :mod:`crowdalpha.data.schema`)."""
        return self.era_data(era).to_frame(self.design.names)

    def targets_for_era(self, era: int, day: int | None = None) -> pd.DataFrame:
        """Targets of ``era`` as resolved on trading day ``day`` of its horizon.

        Day ``d`` (1..horizon) uses the returns of the first ``d`` days after the
        lag for every target (a target's horizon caps it); ``None`` uses every day
        simulated so far. Indexed by ``stock_id``; one column per target, the
        main one also as ``target``.
        """
        snap = self._get_snapshot(era)
        available = self.day - snap.day - self.config.lag
        if day is None:
            day = available
        if day < 1 or day > available:
            raise DataError(f"era {era}: day {day} of the horizon is not resolved yet "
                            f"({max(available, 0)} days known on simulator day {self.day})")
        data = self.era_data(era, with_features=False)
        returns = {h: self.forward_returns(era, h, days=day) for h in self.config.horizons}
        targets = make_targets(returns, data.risk, data.categories, self.config.targets)
        return pd.DataFrame(targets, index=pd.Index(data.stock_ids, name="stock_id"))

    def stream_eras(self, n_eras: int) -> Iterator[EraData]:
        """Advance through ``n_eras`` more eras; yield each era once its longest
        horizon is known, or at the end with the returns known by then (NaN).

        The yielded eras come in order; the last one is the newest (live) era.
        """
        first = self.era + 1
        last = self.era + n_eras
        end_day = self.era_day(last)
        pending = first
        while pending <= last:
            ready_day = min(self.era_day(pending) + self.config.lag + self.config.max_horizon, end_day)
            self.advance_to(ready_day)
            yield self.era_data(pending)
            pending += 1

    # ------------------------------------------------------------------ scenarios

    def scenario_eras(self, kind: str = "crash", n: int = 8, seed: int = 0) -> pd.DataFrame:
        """``n`` virtual eras in regime ``kind``, with resolved forward returns.

        Runs a copy of this simulator (this one does not move) on fresh random
        draws keyed by ``seed``, with the regime forced to ``kind``, and returns
        the eras' raw panel plus a ``regime`` column.
        """
        frames = [data.to_frame(self.design.names).assign(era=data.era, regime=data.regime)
                  for data in self.scenario_era_data(kind, n, seed)]
        return pd.concat(frames, ignore_index=True)

    def scenario_era_data(self, kind: str = "crash", n: int = 8, seed: int = 0) -> list[EraData]:
        """Like :meth:`scenario_eras`, as a list of :class:`EraData`."""
        if kind not in REGIMES:
            raise ConfigError(f"scenario kind {kind!r} is not one of {', '.join(REGIMES)}")
        if n < 1:
            raise ConfigError(f"scenario n={n} must be >= 1")
        clone = copy.deepcopy(self)
        clone._branch = 1 + zlib.crc32(f"scenario:{kind}:{seed}".encode())
        clone.force_regime(kind)
        clone.regime = kind
        first = clone.era + 1
        out = []
        for era in range(first, first + n):
            clone.advance_to(clone.resolve_day(era, self.config.max_horizon))
            out.append(clone.era_data(era))
        return out

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def scenario_eras(kind: str = "crash", n: int = 8, seed: int = 0,
                  config: MarketConfig | None = None, warm_eras: int = 20) -> pd.DataFrame:
    """Virtual eras in regime ``kind`` from a fresh simulator warmed up for
    ``warm_eras`` eras: stress-test panels without building a dataset."""
    sim = MarketSimulator(config, seed=seed)
    sim.advance_to(sim.era_day(warm_eras))
    return sim.scenario_eras(kind, n, seed)


def with_overrides(config: MarketConfig, **changes: object) -> MarketConfig:
    """A copy of ``config`` with some fields changed (validated)."""
    new = replace(config, **changes)  # type: ignore[arg-type]
    new.validate()
    return new


__all__ = [
    "DEFAULT_REGIMES",
    "DEFAULT_TRANSITIONS",
    "REGIMES",
    "MarketConfig",
    "MarketSimulator",
    "RegimeParams",
    "scenario_eras",
    "with_overrides",
]
