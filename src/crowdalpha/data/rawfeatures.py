"""How the simulator turns hidden stock state into observed raw features.

Each raw feature is a noisy, nonlinear transform of one or two *sources*:
latent alpha characteristics, "risky" characteristics (payoff flips with the
regime), useless nuisance characteristics, style exposures and beta, or
trailing returns. Features come in named groups of one *kind* each, so a
group is partly redundant inside and carries different information from the
others. The design is drawn once per simulator seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Kinds of feature groups, cycled through to make ``n_groups`` groups.
GROUP_KIND_CYCLE = ("alpha", "risky", "style", "alpha", "useless", "momentum", "alpha", "mixed",
                    "alpha", "risky", "useless", "alpha")
#: Relative number of features per group kind.
GROUP_KIND_WEIGHT = {"alpha": 1.6, "risky": 1.0, "style": 0.8, "useless": 1.0, "momentum": 0.6,
                     "mixed": 1.0}
#: Transform codes and how often each is drawn.
TRANSFORMS = ("identity", "tanh", "signed_sqrt", "exp", "signed_square", "quantized", "square")
TRANSFORM_WEIGHTS = (0.40, 0.15, 0.10, 0.10, 0.10, 0.10, 0.05)
#: Trailing-return windows (trading days) used as momentum sources.
TRAILING_WINDOWS = (5, 20, 60)


@dataclass(frozen=True)
class SourceLayout:
    """Column positions of each source family in the per-era source matrix."""

    n_alpha: int
    n_risky: int
    n_nuisance: int
    n_styles: int

    @property
    def alpha(self) -> np.ndarray:
        return np.arange(self.n_alpha)

    @property
    def risky(self) -> np.ndarray:
        return self.n_alpha + np.arange(self.n_risky)

    @property
    def nuisance(self) -> np.ndarray:
        return self.n_alpha + self.n_risky + np.arange(self.n_nuisance)

    @property
    def styles(self) -> np.ndarray:
        return self.n_alpha + self.n_risky + self.n_nuisance + np.arange(self.n_styles)

    @property
    def beta(self) -> int:
        return self.n_alpha + self.n_risky + self.n_nuisance + self.n_styles

    @property
    def trailing(self) -> np.ndarray:
        return self.beta + 1 + np.arange(len(TRAILING_WINDOWS))

    @property
    def size(self) -> int:
        return self.beta + 1 + len(TRAILING_WINDOWS)


@dataclass(frozen=True)
class FeatureDesign:
    """The recipe of every raw feature: sources, transform, noise."""

    names: tuple[str, ...]
    groups: tuple[str, ...]  # group of each feature
    group_kinds: dict[str, str]  # group -> kind
    coef: np.ndarray  # (n_sources, n_features) float32
    transform: np.ndarray  # (n_features,) transform code
    noise: np.ndarray  # (n_features,) noise std relative to the signal
    persistence: np.ndarray  # (n_features,) share of the noise that sticks to a stock

    @property
    def n_features(self) -> int:
        return len(self.names)


def group_kinds(n_groups: int) -> list[str]:
    """The kind of each of ``n_groups`` groups."""
    return [GROUP_KIND_CYCLE[i % len(GROUP_KIND_CYCLE)] for i in range(n_groups)]


def design_features(n_features: int, n_groups: int, layout: SourceLayout,
                    noise_range: tuple[float, float], rng: np.random.Generator) -> FeatureDesign:
    """Draw the feature recipes: ``n_features`` spread over ``n_groups`` groups."""
    kinds = group_kinds(n_groups)
    weights = np.array([GROUP_KIND_WEIGHT[k] for k in kinds])
    counts = np.maximum(1, np.floor(weights / weights.sum() * n_features).astype(int))
    counts[np.argmax(weights)] += n_features - counts.sum()
    alpha_groups = [i for i, k in enumerate(kinds) if k == "alpha"]
    names: list[str] = []
    groups: list[str] = []
    kind_of: dict[str, str] = {}
    coef = np.zeros((layout.size, n_features), dtype=np.float32)
    kind_seen: dict[str, int] = {}
    j = 0
    for g, (kind, count) in enumerate(zip(kinds, counts, strict=True)):
        kind_seen[kind] = kind_seen.get(kind, 0) + 1
        group = f"{kind}{kind_seen[kind]}"
        kind_of[group] = kind
        pool, partner = _source_pool(kind, g, alpha_groups, layout)
        for i in range(int(count)):
            names.append(f"feature_{group}__f{i:03d}")
            groups.append(group)
            n_src = 1 if rng.random() < 0.6 or len(pool) < 2 else 2
            sources = rng.choice(pool, size=n_src, replace=False)
            weights_j = rng.normal(size=n_src)
            if partner is not None and rng.random() < 0.7:
                sources = np.append(sources, rng.choice(partner))
                weights_j = np.append(weights_j, rng.normal(scale=0.8))
            coef[sources, j] = weights_j / np.linalg.norm(weights_j)
            j += 1
    transform = rng.choice(len(TRANSFORMS), size=n_features, p=TRANSFORM_WEIGHTS)
    noise = rng.uniform(*noise_range, size=n_features).astype(np.float32)
    persistence = rng.uniform(0.3, 0.9, size=n_features).astype(np.float32)
    return FeatureDesign(tuple(names), tuple(groups), kind_of, coef, transform, noise, persistence)


def _source_pool(kind: str, g: int, alpha_groups: list[int], layout: SourceLayout,
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Sources a group draws from, and a second family mixed into some features."""
    if kind == "alpha":
        chunks = np.array_split(layout.alpha, max(1, len(alpha_groups)))
        position = alpha_groups.index(g)
        own = chunks[position]
        neighbour = chunks[(position + 1) % len(chunks)][:1]
        return np.concatenate([own, neighbour]), None
    if kind == "risky":
        return layout.risky, None
    if kind == "style":
        return np.append(layout.styles, layout.beta), None
    if kind == "momentum":
        return layout.trailing, layout.styles[1:2] if len(layout.styles) > 1 else None
    if kind == "useless":
        return layout.nuisance, None
    return layout.alpha, np.append(layout.styles, layout.nuisance)  # mixed


def apply_transforms(z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Transform each column of ``z`` (in place) by its code, then standardize it."""
    for code, name in enumerate(TRANSFORMS):
        cols = np.flatnonzero(codes == code)
        if len(cols) == 0 or name == "identity":
            continue
        part = z[:, cols]
        if name == "tanh":
            part = np.tanh(1.2 * part)
        elif name == "signed_sqrt":
            part = np.sign(part) * np.sqrt(np.abs(part))
        elif name == "exp":
            part = np.exp(0.5 * part)
        elif name == "signed_square":
            part = part * np.abs(part)
        elif name == "quantized":
            part = np.round(2.0 * part) / 2.0
        elif name == "square":
            part = part * part
        z[:, cols] = part
    z -= z.mean(axis=0, keepdims=True)
    scale = z.std(axis=0, keepdims=True)
    z /= np.where(scale > 0, scale, 1.0)
    return z


__all__ = ["FeatureDesign", "SourceLayout", "apply_transforms", "design_features", "group_kinds"]
