"""The tests and intervals behind honest comparisons, in plain Python (math and
statistics.NormalDist; no scipy at run time — the tests check these against scipy and
statsmodels, which would be no check if the kiosk used them itself).

- ``independence_test``: Pearson's chi-square test of independence of a cross-tab (no
  continuity correction, as ``scipy.stats.chi2_contingency(..., correction=False)``) with
  Cramér's V, the smallest expected count, Cochran's warning (an expected count under 1, or
  more than 20 % of them under 5) and, for a 2×2 table with such small counts, Fisher's exact
  test (two-sided, as ``scipy.stats.fisher_exact``). Empty rows and columns (a group nobody
  is in, a choice nobody chose) are left out first; what cannot be tested says why.
- ``wilson_interval``: the Wilson score interval of one proportion (every ``ci95`` of the
  statistics; surveys/stats/figures.py uses it from here).
- ``newcombe_interval``: Newcombe's hybrid score interval ("method 10") for the difference of
  two independent proportions, built on the Wilson interval (statsmodels'
  ``confint_proportions_2indep(..., method="newcomb")``).
- ``welch_interval``: Welch's t interval and test for a difference of means
  (``scipy.stats.ttest_ind(..., equal_var=False)``); the t quantile comes from the
  regularized incomplete beta function, inverted by bisection.

Percentages and their intervals are in percent (points), as in surveys/stats/figures.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal
EPSILON = 3e-16  # the continued fractions and series stop at this relative change
MAX_TERMS = 10_000
SMALL = 1e-300  # Lentz's guard against a zero denominator


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, in percent; None when total is 0."""
    if total <= 0:
        return None
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half) * 100
    high = 100.0 if successes == total else min(1.0, centre + half) * 100
    return (low, high)


# ---- special functions ----------------------------------------------------------------------


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function: the series
    for P when x < a + 1, else Lentz's continued fraction for Q (Numerical Recipes 6.2)."""
    if a <= 0:
        raise ValueError("a must be positive")
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # the series converges fast here
        term = total = 1.0 / a
        denominator = a
        for _ in range(MAX_TERMS):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * EPSILON:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    b = x + 1 - a
    c = 1 / SMALL
    d = 1 / b
    fraction = d
    for index in range(1, MAX_TERMS):
        an = -index * (index - a)
        b += 2
        d = an * d + b
        d = SMALL if abs(d) < SMALL else d
        c = b + an / c
        c = SMALL if abs(c) < SMALL else c
        d = 1 / d
        step = d * c
        fraction *= step
        if abs(step - 1) < EPSILON:
            break
    return math.exp(log_front) * fraction


def chi2_sf(statistic: float, df: int) -> float:
    """P(χ² ≥ statistic) with ``df`` degrees of freedom."""
    return regularized_gamma_q(df / 2, statistic / 2)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes 6.4)."""
    c = 1.0
    d = 1 - (a + b) * x / (a + 1)
    d = 1 / (SMALL if abs(d) < SMALL else d)
    fraction = d
    for m in range(1, MAX_TERMS):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 + even * d
        d = 1 / (SMALL if abs(d) < SMALL else d)
        c = 1 + even / c
        c = SMALL if abs(c) < SMALL else c
        fraction *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + odd * d
        d = 1 / (SMALL if abs(d) < SMALL else d)
        c = 1 + odd / c
        c = SMALL if abs(c) < SMALL else c
        step = d * c
        fraction *= step
        if abs(step - 1) < EPSILON:
            break
    return fraction


def regularized_beta(x: float, a: float, b: float, complement: float | None = None) -> float:
    """I_x(a, b), the regularized incomplete beta function. ``complement``: 1 − x when the
    caller has it more exactly than 1 − x would give (x near 1)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    rest = 1 - x if complement is None else complement
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log(rest))
    # The fraction converges for x below (a + 1) / (a + b + 2); else by symmetry.
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(rest, b, a) / b


def t_sf(t: float, df: float) -> float:
    """P(T ≥ t) for Student's t with ``df`` (possibly fractional) degrees of freedom."""
    square = t * t
    # x = df / (df + t²) and 1 − x = t² / (df + t²), each without cancellation.
    tail = 0.5 * regularized_beta(df / (df + square), df / 2, 0.5, square / (df + square))
    return tail if t >= 0 else 1 - tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (0 < p < 1), by bisection on its distribution
    function: slow beside a rational approximation, but exact to the last bits."""
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    if p == 0.5:
        return 0.0
    upper = p > 0.5
    tail = 1 - p if upper else p
    low, high = 0.0, 1.0
    while t_sf(high, df) > tail:  # widen until the tail is inside
        low, high = high, high * 2
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if t_sf(middle, df) > tail:
            low = middle
        else:
            high = middle
    value = (low + high) / 2
    return value if upper else -value


# ---- the chi-square test of independence ---------------------------------------------------


@dataclass(frozen=True)
class IndependenceTest:
    """A chi-square test of independence of a cross-tab, or why none could be made.

    ``rows`` and ``columns``: the groups and choices kept (those with a count); ``expected``
    their expected counts under independence. ``small_expected``: Cochran's rule is broken
    (the chi-square p is then unreliable); ``fisher_p``: Fisher's exact two-sided p for a 2×2
    table with small expected counts (the p to read then). ``reason``: why no test (the
    other fields are None)."""

    n: int
    rows: list[str]
    columns: list[str]
    chi2: float | None = None
    df: int | None = None
    p: float | None = None
    cramers_v: float | None = None
    min_expected: float | None = None
    small_expected: bool = False
    fisher_p: float | None = None
    reason: str | None = None

    @property
    def p_to_read(self) -> float | None:
        """Fisher's p when it was made (small counts in a 2×2), else the chi-square p."""
        return self.fisher_p if self.fisher_p is not None else self.p

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "rows": self.rows, "columns": self.columns, "chi2": self.chi2,
                "df": self.df, "p": self.p, "cramers_v": self.cramers_v,
                "min_expected": self.min_expected, "small_expected": self.small_expected,
                "fisher_p": self.fisher_p, "reason": self.reason}


# Why a table cannot be tested (keys; the words are in surveys/stats/sentences.py).
NO_ANSWERS = "no_answers"
ONE_GROUP = "one_group"
ONE_CHOICE = "one_choice"


def expected_counts(table: Sequence[Sequence[int]]) -> list[list[float]]:
    """Row total × column total / n for every cell."""
    rows = [sum(row) for row in table]
    columns = [sum(column) for column in zip(*table, strict=True)]
    n = sum(rows)
    return [[row * column / n for column in columns] for row in rows]


def cochran_warning(expected: Sequence[Sequence[float]]) -> bool:
    """Cochran's rule broken: an expected count under 1, or more than 20 % of them under 5."""
    cells = [value for row in expected for value in row]
    return min(cells) < 1 or sum(value < 5 for value in cells) > 0.2 * len(cells)


def cramers_v(chi2: float, n: int, rows: int, columns: int) -> float:
    """Cramér's V = √(χ² / (n · (min(r, c) − 1))), from 0 (independent) to 1."""
    return math.sqrt(chi2 / (n * (min(rows, columns) - 1)))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test of the 2×2 table [[a, b], [c, d]], two-sided as scipy computes it:
    the probability, with the margins fixed, of every table no more likely than this one.
    The probabilities are compared exactly (integers over one denominator), so equally
    likely tables are never split by rounding."""
    row1, row2, column1 = a + b, c + d, a + c
    n = row1 + row2
    if row1 == 0 or row2 == 0 or column1 == 0 or column1 == n:
        return 1.0  # a margin is empty: every table is this one
    low, high = max(0, column1 - row2), min(row1, column1)

    def weight(x: int) -> int:  # the hypergeometric probability times C(n, column1)
        return math.comb(row1, x) * math.comb(row2, column1 - x)

    observed = weight(a)
    total = sum(weight(x) for x in range(low, high + 1) if weight(x) <= observed)
    return min(1.0, total / math.comb(n, column1))


def independence_test(table: Mapping[str, Mapping[str, int]]) -> IndependenceTest:
    """The chi-square test of ``table[group][choice]`` (counts of respondents, each in one
    cell). Rows and columns with no count are dropped first; fewer than two of either and
    there is nothing to test (``reason``)."""
    groups = [group for group, row in table.items() if sum(row.values()) > 0]
    choices: list[str] = []
    for row in table.values():
        choices.extend(choice for choice in row if choice not in choices)
    columns = [choice for choice in choices
               if sum(row.get(choice, 0) for row in table.values()) > 0]
    n = sum(sum(table[group].get(choice, 0) for choice in columns) for group in groups)
    if n == 0:
        return IndependenceTest(0, [], [], reason=NO_ANSWERS)
    if len(groups) < 2:
        return IndependenceTest(n, groups, columns, reason=ONE_GROUP)
    if len(columns) < 2:
        return IndependenceTest(n, groups, columns, reason=ONE_CHOICE)
    counts = [[table[group].get(choice, 0) for choice in columns] for group in groups]
    expected = expected_counts(counts)
    chi2 = math.fsum((observed - wanted) ** 2 / wanted
                     for row, wanted_row in zip(counts, expected, strict=True)
                     for observed, wanted in zip(row, wanted_row, strict=True))
    df = (len(groups) - 1) * (len(columns) - 1)
    small = cochran_warning(expected)
    fisher = (fisher_exact(counts[0][0], counts[0][1], counts[1][0], counts[1][1])
              if small and df == 1 else None)
    return IndependenceTest(
        n, groups, columns, chi2=chi2, df=df, p=chi2_sf(chi2, df),
        cramers_v=cramers_v(chi2, n, len(groups), len(columns)),
        min_expected=min(value for row in expected for value in row), small_expected=small,
        fisher_p=fisher)


# ---- differences between two independent groups -------------------------------------------


def newcombe_interval(count1: int, total1: int, count2: int,
                      total2: int) -> tuple[float, float] | None:
    """Newcombe's hybrid score 95 % interval of p1 − p2 in percentage points, from the Wilson
    intervals of both proportions; None when a group is empty."""
    first, second = wilson_interval(count1, total1), wilson_interval(count2, total2)
    if first is None or second is None:
        return None
    p1, p2 = count1 / total1 * 100, count2 / total2 * 100
    (low1, high1), (low2, high2) = first, second
    difference = p1 - p2
    return (difference - math.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2),
            difference + math.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2))


@dataclass(frozen=True)
class Welch:
    """Welch's comparison of two means: mean1 − mean2, its 95 % interval, t, df and p."""

    difference: float
    low: float
    high: float
    t: float
    df: float
    p: float


def mean_and_variance(value_counts: Mapping[float, int]) -> tuple[int, float | None,
                                                                   float | None]:
    """n, mean and sample variance (n − 1) of a sample given as {value: count}."""
    n = sum(value_counts.values())
    if n == 0:
        return 0, None, None
    mean = math.fsum(value * count for value, count in value_counts.items()) / n
    if n < 2:
        return n, mean, None
    squares = math.fsum((value - mean) ** 2 * count for value, count in value_counts.items())
    return n, mean, squares / (n - 1)


def welch_interval(n1: int, mean1: float, variance1: float, n2: int, mean2: float,
                   variance2: float, confidence: float = 0.95) -> Welch | None:
    """Welch's t interval of mean1 − mean2 (unequal variances, Welch–Satterthwaite degrees of
    freedom). None when it cannot be made: a group of fewer than 2, or no spread in either
    (everyone in both groups gave the same score)."""
    if n1 < 2 or n2 < 2:
        return None
    share1, share2 = variance1 / n1, variance2 / n2
    error = math.sqrt(share1 + share2)
    if error == 0:
        return None
    df = (share1 + share2) ** 2 / (share1 ** 2 / (n1 - 1) + share2 ** 2 / (n2 - 1))
    difference = mean1 - mean2
    t = difference / error
    half = t_quantile(1 - (1 - confidence) / 2, df) * error
    return Welch(difference, difference - half, difference + half, t, df,
                 min(1.0, 2 * t_sf(abs(t), df)))


__all__ = ["Z95", "IndependenceTest", "Welch", "chi2_sf", "cochran_warning", "cramers_v",
           "expected_counts", "fisher_exact", "independence_test", "mean_and_variance",
           "newcombe_interval", "regularized_beta", "regularized_gamma_q", "t_quantile",
           "t_sf", "welch_interval", "wilson_interval"]
