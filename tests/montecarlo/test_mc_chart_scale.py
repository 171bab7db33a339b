"""The fan chart's panels share one scale rule (the run page's: log beyond 10x)."""

from __future__ import annotations

import pandas as pd

from backtest.montecarlo.charts import use_log


def test_one_rule_for_the_nominal_and_real_panels():
    # nominal 5th-95th spans 1,000 -> 12,000 (12x); real 1,000 -> 8,000 (8x)
    t = pd.DataFrame({"p5": [1000.0, 1500.0], "p95": [1000.0, 12000.0],
                      "real_p5": [1000.0, 1200.0], "real_p95": [1000.0, 8000.0]})
    assert use_log(t)  # both panels on a log axis, though the real one alone spans 8x
    assert not use_log(t, ("real_",))
    flat = t.assign(p95=[1000.0, 9000.0])
    assert not use_log(flat)
    assert not use_log(t.assign(p5=[0.0, 1500.0]))  # a depleted path: 0 is not on a log axis
