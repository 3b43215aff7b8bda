"""Calling a function and checking it left its pandas arguments as they were."""

from __future__ import annotations

import copy

import pandas as pd


def unchanged(function, *args, **kwargs):
    """Call ``function`` and assert its pandas arguments are as they were."""
    before = copy.deepcopy(args)
    result = function(*args, **kwargs)
    for old, new in zip(before, args, strict=True):
        if isinstance(old, pd.DataFrame):
            pd.testing.assert_frame_equal(old, new)
        elif isinstance(old, pd.Series):
            pd.testing.assert_series_equal(old, new)
        elif isinstance(old, dict):
            for key in old:
                pd.testing.assert_series_equal(old[key], new[key]) if isinstance(old[key], pd.Series) \
                    else pd.testing.assert_frame_equal(old[key], new[key])
    return result
