"""Simulated participants of a replayed tournament season.

For each new round the season runner hands every participant the round's live
frame and the example model's live predictions; a participant answers with
predictions and, separately, a staking decision::

    cast = make_participants(version_dir, seed=0)
    for p in cast:
        if p.submits_on(weekday):
            upload(p, submission_bytes(p.predict(live, example)))
        change = p.decide_stake(balance, stake, last_corr)   # StakeChange | None

Predictions are ranked per era into (0, 1), so they always pass the
tournament's validation (no NaN, not constant, within [0, 1]). Staking
decisions take plain numbers and return plain values: this module never
touches the database and imports nothing of ``crowdalpha.tournament``, so it
can be tested alone and the runner decides how a decision reaches the ledger.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from crowdalpha.data import layout
from crowdalpha.errors import ConfigError, DataError
from crowdalpha.scoring import neutralize_per_era
from crowdalpha.scoring.kernels import gaussian_rank_rows, tie_kept_rank_rows

#: Decimal places of money, as the tournament ledger keeps it (``tournament.tables.QUANTUM``).
QUANTUM = Decimal("1e-9")
ZERO = Decimal(0).quantize(QUANTUM)

#: Weekdays (0 = Monday) the operator's integration-test model submits on.
#: Saturday is in, so under the default weekly schedule (rounds open on
#: Saturday) it submits every round; under a daily schedule (Monday..Friday)
#: it submits on Tuesdays and Thursdays only, so the tournament also sees an
#: operator model that skips rounds.
INTEGRATION_TEST_WEEKDAYS: tuple[int, ...] = (1, 3, 5)
#: The feature set the linear and neutral strategies use.
LINEAR_FEATURE_SET = "medium"
RIDGE_ALPHA = 1.0
#: Std of the noise the meta-copy adds to the gaussianized consensus (std 1).
META_COPY_NOISE = 0.1
#: Share of the example predictions' linear feature exposure the neutral strategy removes.
NEUTRAL_PROPORTION = 0.5
#: The account that owns the operator's models (``tournament.accounts.OPERATOR_NAME``).
OPERATOR_ACCOUNT = "operator"


# --- strategies ----------------------------------------------------------------


class StrategyKind(StrEnum):
    """What a simulated participant submits."""

    EXAMPLE = "example"  # the dataset's example LightGBM predictions
    LINEAR = "linear"  # a ridge regression on the medium features
    RANDOM = "random"  # uniform noise
    META_COPY = "meta_copy"  # the crowd's consensus: example + linear + a little noise
    NEUTRAL = "neutral"  # the example predictions, half neutralized to the medium features
    INTEGRATION_TEST = "integration_test"  # the example model, run by the operator on fixed weekdays


#: Kinds that need the cast's shared ridge fit.
NEEDS_LINEAR = frozenset({StrategyKind.LINEAR, StrategyKind.META_COPY})


@dataclass(frozen=True)
class LinearModel:
    """A ridge regression of the main target on one feature set, fitted once per cast."""

    features: tuple[str, ...]
    ridge: Ridge = field(repr=False, compare=False)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw (unranked) predictions for the rows of ``frame``."""
        _require_columns(frame, self.features, "live frame")
        return self.ridge.predict(frame[list(self.features)].to_numpy(np.float32))


def fit_linear(version_dir: Path, feature_set: str = LINEAR_FEATURE_SET,
               alpha: float = RIDGE_ALPHA) -> LinearModel:
    """Fit ridge on the train split's ``feature_set`` and main ``target`` (a second or so on ``small``)."""
    features = feature_set_of(version_dir, feature_set)
    train = layout.read_split(version_dir, "train", columns=[*features, "target"])
    ridge = Ridge(alpha=alpha).fit(train[features].to_numpy(np.float32), train["target"].to_numpy())
    return LinearModel(tuple(features), ridge)


def feature_set_of(version_dir: Path, name: str) -> list[str]:
    """The features of one named set in the version's ``features.json``."""
    sets = layout.read_features_json(version_dir)["feature_sets"]
    if name not in sets:
        raise DataError(f"feature set {name!r} is not in {Path(version_dir) / layout.FEATURES_JSON}; "
                        f"sets: {', '.join(sorted(sets))}")
    return list(sets[name])


@dataclass(frozen=True)
class Strategy:
    """How one kind of participant turns a live frame into predictions.

    ``linear`` is the cast's shared ridge fit (``linear`` and ``meta_copy``
    kinds); ``features`` the columns the ``neutral`` kind neutralizes against;
    ``weekdays`` the days the ``integration_test`` kind submits on.
    """

    kind: StrategyKind
    linear: LinearModel | None = None
    features: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = INTEGRATION_TEST_WEEKDAYS

    def __post_init__(self) -> None:
        kind = StrategyKind(self.kind)
        object.__setattr__(self, "kind", kind)
        if kind in NEEDS_LINEAR and self.linear is None:
            raise ConfigError(f"strategy {kind.value!r} needs the fitted linear model (linear=...)")
        if kind is StrategyKind.NEUTRAL and not self.features:
            raise ConfigError("strategy 'neutral' needs the features to neutralize against (features=...)")
        if not self.weekdays or any(not _is_weekday(d) for d in self.weekdays):
            raise ConfigError(f"strategy weekdays {self.weekdays!r} must be weekday numbers 0 (Monday)..6")

    def submits_on(self, weekday: int) -> bool:
        """Whether a round opening on ``weekday`` (0 = Monday) gets a submission.

        Only the integration-test model keeps a timetable; everyone else submits every round.
        """
        if not _is_weekday(weekday):
            raise ConfigError(f"weekday {weekday!r} must be a weekday number 0 (Monday)..6 (Sunday)")
        return self.kind is not StrategyKind.INTEGRATION_TEST or weekday in self.weekdays

    def scores(self, live: pd.DataFrame, example: pd.Series, rng: np.random.Generator,
               meta: pd.Series | None = None) -> np.ndarray:
        """Raw scores for the rows of ``live`` (higher = better); :meth:`predict` ranks them.

        ``meta`` is a published meta-model for these rows: the historical one
        on validation eras. Live rounds have none, so ``meta_copy`` then copies
        the crowd's consensus instead (see :class:`StrategyKind`).
        """
        eras = _eras(live)
        match self.kind:
            case StrategyKind.EXAMPLE | StrategyKind.INTEGRATION_TEST:
                return _aligned(example, live, "example predictions")
            case StrategyKind.LINEAR:
                return self._linear().predict(live)
            case StrategyKind.RANDOM:
                return rng.random(len(live))
            case StrategyKind.META_COPY:
                if meta is not None:
                    consensus = _gaussian_per_era(_aligned(meta, live, "meta-model"), eras)
                else:
                    # Participants never see the live meta-model; it is close to the
                    # stake-weighted crowd, whose bulk submits the example model or a
                    # linear model of the features, so a copier blends the two.
                    consensus = (_gaussian_per_era(_aligned(example, live, "example predictions"), eras)
                                 + _gaussian_per_era(self._linear().predict(live), eras)) / 2
                return consensus + rng.normal(0.0, META_COPY_NOISE, len(live))
            case StrategyKind.NEUTRAL:
                _require_columns(live, self.features, "live frame")
                base = pd.DataFrame({"example": _aligned(example, live, "example predictions")},
                                    index=live.index)
                exposures = live[list(self.features)].astype(np.float64)
                neutral = neutralize_per_era(base, exposures, eras, proportion=NEUTRAL_PROPORTION)
                return neutral["example"].to_numpy()
        raise AssertionError(f"unhandled strategy kind {self.kind!r}")  # pragma: no cover

    def predict(self, live: pd.DataFrame, example: pd.Series, rng: np.random.Generator,
                meta: pd.Series | None = None) -> pd.Series:
        """Predictions in (0, 1), ranked per era, indexed like ``live``, named ``prediction``."""
        if len(live) < 2:
            raise DataError(f"live frame has {len(live)} rows; at least 2 are needed to rank predictions")
        ranked = _rank_per_era(self.scores(live, example, rng, meta), _eras(live))
        if np.isnan(ranked).any():
            raise DataError(f"strategy {self.kind.value!r} produced NaN predictions for "
                            f"{int(np.isnan(ranked).sum())} rows, first id {live.index[np.isnan(ranked)][0]!r}")
        if np.ptp(ranked) == 0:
            raise DataError(f"strategy {self.kind.value!r} produced constant predictions for "
                            f"all {len(ranked)} rows")
        return pd.Series(ranked, index=live.index, name=layout.PREDICTION)

    def _linear(self) -> LinearModel:
        if self.linear is None:  # pragma: no cover - __post_init__ guarantees it
            raise ConfigError(f"strategy {self.kind.value!r} has no linear model")
        return self.linear


def _is_weekday(day: object) -> bool:
    return isinstance(day, int | np.integer) and not isinstance(day, bool) and 0 <= day <= 6


def _eras(frame: pd.DataFrame) -> np.ndarray:
    """Era label of each row; a frame without an ``era`` column is one era."""
    if layout.ERA in frame.columns:
        return frame[layout.ERA].to_numpy()
    return np.zeros(len(frame), dtype=np.int8)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lacks {len(missing)} of the {len(columns)} feature columns, first: {missing[0]!r}")


def _aligned(values: pd.Series, frame: pd.DataFrame, what: str) -> np.ndarray:
    """``values`` in the row order of ``frame``; every id must be there, none NaN."""
    if not isinstance(values, pd.Series):
        raise DataError(f"{what} must be a pandas Series indexed by id, got {type(values).__name__}")
    out = values.reindex(frame.index).to_numpy(np.float64)
    bad = np.isnan(out)
    if bad.any():
        raise DataError(f"{what} lack {int(bad.sum())} of {len(frame)} ids (or hold NaN), "
                        f"first: {frame.index[bad][0]!r}")
    return out


def _per_era(values: np.ndarray, eras: np.ndarray, rank_rows) -> np.ndarray:
    out = np.empty(len(values))
    for era in pd.unique(eras):
        rows = np.flatnonzero(eras == era)
        out[rows] = rank_rows(values[rows])
    return out


def _rank_per_era(values: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """Tie-kept percentile ranks ``(rank - 0.5) / n`` within each era: always inside (0, 1)."""
    return _per_era(np.asarray(values, np.float64), eras, tie_kept_rank_rows)


def _gaussian_per_era(values: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """Normal quantiles of the per-era ranks: every era on one N(0, 1) scale."""
    return _per_era(np.asarray(values, np.float64), eras, gaussian_rank_rows)


# --- staking -------------------------------------------------------------------


class StakeRule(StrEnum):
    """How a participant changes its stake between rounds."""

    NEVER = "never"  # never stakes: submits for the leaderboard only
    HOLD = "hold"  # stakes its initial stake, then leaves it alone
    COMPOUND = "compound"  # after a good round, adds a share of its wallet
    CAUTIOUS = "cautious"  # after a bad round, requests a decrease of a share of its stake
    ADAPTIVE = "adaptive"  # both: adds after good rounds, withdraws after bad ones


class StakeAction(StrEnum):
    INCREASE = "increase"  # wallet -> stake, counts from the next round
    DECREASE = "decrease"  # stake -> pending release, back in the wallet once its rounds resolve


@dataclass(frozen=True)
class StakeChange:
    """One requested stake movement: a positive amount with 9 decimal places."""

    action: StakeAction
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", StakeAction(self.action))
        amount = self.amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ConfigError(f"stake change amount {amount!r} must be a positive Decimal")
        if amount != amount.quantize(QUANTUM, rounding=ROUND_DOWN):
            raise ConfigError(f"stake change amount {amount} has more than 9 decimal places")


@dataclass(frozen=True)
class StakingPolicy:
    """A participant's money: what it deposits, what it stakes first, and its rule.

    ``fraction`` is the share of the wallet added after a good round (final
    CORR above ``threshold``) or of the stake withdrawn after a bad one
    (below ``-threshold``). The decision is a pure function of its inputs.
    """

    rule: StakeRule
    initial_deposit: Decimal = ZERO
    initial_stake: Decimal = ZERO
    fraction: Decimal = Decimal("0.1")
    threshold: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", StakeRule(self.rule))
        for name in ("initial_deposit", "initial_stake"):
            object.__setattr__(self, name, _money(getattr(self, name), name, exact=True))
        if self.initial_stake > self.initial_deposit:
            raise ConfigError(f"initial_stake {self.initial_stake} exceeds initial_deposit {self.initial_deposit}")
        if self.rule is StakeRule.NEVER and self.initial_stake > 0:
            raise ConfigError(f"rule 'never' cannot have initial_stake {self.initial_stake}")
        if not isinstance(self.fraction, Decimal) or not 0 < self.fraction <= 1:
            raise ConfigError(f"fraction {self.fraction!r} must be a Decimal in (0, 1]")
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise ConfigError(f"threshold {self.threshold!r} must be a finite number >= 0")

    def decide(self, balance: Decimal, stake: Decimal, last_corr: float | None) -> StakeChange | None:
        """The stake change to request before the next round closes, or None.

        ``balance`` is the wallet, ``stake`` the model's active stake and
        ``last_corr`` the final CORR of its latest resolved round (None, or
        NaN, before any has resolved). An increase never exceeds ``balance``,
        a decrease never exceeds ``stake``; amounts are rounded down to 9 places.
        """
        balance = _money(balance, "balance")
        stake = _money(stake, "stake")
        if last_corr is not None and (isinstance(last_corr, bool)
                                      or not isinstance(last_corr, int | float | np.floating)):
            raise TypeError(f"last_corr {last_corr!r} must be a number or None")
        if self.rule is StakeRule.NEVER:
            return None
        with localcontext() as ctx:
            ctx.prec = 60  # exact products and roundings for any amount the ledger can hold
            if last_corr is None or math.isnan(last_corr):
                # Nothing resolved yet: bring the stake up to the initial stake.
                return _change(StakeAction.INCREASE, self.initial_stake - stake, balance)
            if last_corr > self.threshold and self.rule in (StakeRule.COMPOUND, StakeRule.ADAPTIVE):
                return _change(StakeAction.INCREASE, balance * self.fraction, balance)
            if last_corr < -self.threshold and self.rule in (StakeRule.CAUTIOUS, StakeRule.ADAPTIVE):
                return _change(StakeAction.DECREASE, stake * self.fraction, stake)
        return None


def _money(value: object, name: str, *, exact: bool = False) -> Decimal:
    """A non-negative finite Decimal (or int); ``exact`` also requires at most 9 places."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} {value!r} is a {type(value).__name__}; "
                        "pass a Decimal (money is never a binary float)")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{name} {value!r} must be a finite amount >= 0")
    if exact and amount != amount.quantize(QUANTUM, rounding=ROUND_DOWN):
        raise ConfigError(f"{name} {value} has more than 9 decimal places")
    return amount


def _change(action: StakeAction, wanted: Decimal, available: Decimal) -> StakeChange | None:
    """``wanted`` capped at ``available`` and rounded down to 9 places; None when that is 0."""
    amount = min(wanted, available).quantize(QUANTUM, rounding=ROUND_DOWN)
    return StakeChange(action, amount) if amount > 0 else None


# --- participants ----------------------------------------------------------------


@dataclass
class Participant:
    """One simulated data scientist with one model: what it submits and how it stakes.

    ``rng`` drives the strategy's noise, so a participant's predictions depend
    only on the cast's seed and on how many rounds it has predicted.
    ``operator`` marks the operator's own (integration-test) model.
    """

    name: str  # account name
    model_name: str
    strategy: Strategy
    staking: StakingPolicy
    rng: np.random.Generator = field(repr=False, compare=False)
    operator: bool = False

    @property
    def kind(self) -> StrategyKind:
        return self.strategy.kind

    def predict(self, live: pd.DataFrame, example: pd.Series) -> pd.Series:
        """This round's predictions: in (0, 1), indexed like ``live``, named ``prediction``."""
        return self.strategy.predict(live, example, self.rng)

    def submits_on(self, weekday: int) -> bool:
        """Whether it submits to a round opening on ``weekday`` (0 = Monday)."""
        return self.strategy.submits_on(weekday)

    def decide_stake(self, balance: Decimal, stake: Decimal, last_corr: float | None) -> StakeChange | None:
        """Its stake change before the next round; see :meth:`StakingPolicy.decide`."""
        return self.staking.decide(balance, stake, last_corr)


@dataclass(frozen=True)
class CastMember:
    """A role in the default cast; money amounts are drawn per seed."""

    account: str
    model: str
    kind: StrategyKind
    rule: StakeRule
    operator: bool = False


#: The default cast, in order: the first six cover every strategy kind.
DEFAULT_CAST: tuple[CastMember, ...] = (
    CastMember(OPERATOR_ACCOUNT, "integration_test", StrategyKind.INTEGRATION_TEST, StakeRule.NEVER,
               operator=True),
    CastMember("ada", "ada_lgbm", StrategyKind.EXAMPLE, StakeRule.COMPOUND),
    CastMember("bo", "bo_ridge", StrategyKind.LINEAR, StakeRule.HOLD),
    CastMember("cy", "cy_noise", StrategyKind.RANDOM, StakeRule.CAUTIOUS),
    CastMember("dee", "dee_consensus", StrategyKind.META_COPY, StakeRule.ADAPTIVE),
    CastMember("eli", "eli_neutral", StrategyKind.NEUTRAL, StakeRule.COMPOUND),
    CastMember("fay", "fay_lgbm", StrategyKind.EXAMPLE, StakeRule.NEVER),
    CastMember("gus", "gus_ridge", StrategyKind.LINEAR, StakeRule.CAUTIOUS),
)

_EXTRA_KINDS = [k for k in StrategyKind if k is not StrategyKind.INTEGRATION_TEST]
_EXTRA_RULES = list(StakeRule)


def cast_members(n: int | None = None) -> list[CastMember]:
    """The first ``n`` roles (default: the whole default cast); beyond it,
    ``simNNN`` accounts cycle through the participant kinds and stake rules."""
    if n is None:
        return list(DEFAULT_CAST)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"number of participants {n!r} must be a positive integer")
    members = list(DEFAULT_CAST[:n])
    for i in range(len(DEFAULT_CAST), n):
        kind = _EXTRA_KINDS[i % len(_EXTRA_KINDS)]
        members.append(CastMember(f"sim{i:03d}", f"sim{i:03d}_{kind.value}", kind,
                                  _EXTRA_RULES[i % len(_EXTRA_RULES)]))
    return members


def draw_policy(rule: StakeRule, rng: np.random.Generator) -> StakingPolicy:
    """Money for one participant: a deposit of 500..5,000, a first stake of
    20..80 % of it, and a fraction of 5..25 % for its rule."""
    if rule is StakeRule.NEVER:
        return StakingPolicy(rule)
    deposit = Decimal(int(rng.integers(50, 501)) * 10)
    stake = (deposit * int(rng.integers(2, 9)) / 10).quantize(QUANTUM)
    fraction = Decimal(int(rng.integers(1, 6)) * 5) / 100
    threshold = float(rng.choice([0.0, 0.005, 0.01]))
    return StakingPolicy(rule, deposit.quantize(QUANTUM), stake, fraction, threshold)


def make_participants(version_dir: Path, seed: int, n: int | None = None) -> list[Participant]:
    """The simulated cast of a season on one dataset version, the same for the same seed.

    Participant ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``, so
    adding participants never changes the earlier ones. The ridge model is
    fitted once and shared by every strategy that needs it.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a non-negative integer")
    members = cast_members(n)
    linear = fit_linear(version_dir) if any(m.kind in NEEDS_LINEAR for m in members) else None
    features = tuple(feature_set_of(version_dir, LINEAR_FEATURE_SET))
    cast = []
    for i, member in enumerate(members):
        policy_seed, predict_seed = np.random.SeedSequence(seed, spawn_key=(i,)).spawn(2)
        strategy = Strategy(member.kind,
                            linear=linear if member.kind in NEEDS_LINEAR else None,
                            features=features if member.kind is StrategyKind.NEUTRAL else ())
        cast.append(Participant(member.account, member.model, strategy,
                                draw_policy(member.rule, np.random.default_rng(policy_seed)),
                                np.random.default_rng(predict_seed), member.operator))
    return cast


def submission_bytes(predictions: pd.Series) -> bytes:
    """The CSV a participant uploads: header ``id,prediction``, one row per id."""
    if not isinstance(predictions, pd.Series):
        raise DataError(f"predictions must be a pandas Series indexed by id, got {type(predictions).__name__}")
    frame = pd.DataFrame({layout.PREDICTION: predictions.to_numpy(np.float64)},
                         index=pd.Index(predictions.index.astype(str), name=layout.ID))
    buffer = io.StringIO()
    frame.to_csv(buffer, float_format="%.17g")
    return buffer.getvalue().encode()


__all__ = [
    "DEFAULT_CAST",
    "INTEGRATION_TEST_WEEKDAYS",
    "LINEAR_FEATURE_SET",
    "META_COPY_NOISE",
    "NEUTRAL_PROPORTION",
    "OPERATOR_ACCOUNT",
    "QUANTUM",
    "CastMember",
    "LinearModel",
    "Participant",
    "StakeAction",
    "StakeChange",
    "StakeRule",
    "StakingPolicy",
    "Strategy",
    "StrategyKind",
    "cast_members",
    "draw_policy",
    "feature_set_of",
    "fit_linear",
    "make_participants",
    "submission_bytes",
]
