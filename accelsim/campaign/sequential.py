"""Sequential yield decisions (opt-in, ``sequential:`` in a campaign spec or run config).

A point (model, scheme, voltage) draws its chips in rounds of ``step``; after each round
the share of its chips within the tolerance gets a 95 % Wilson interval, and a point
whose interval lies entirely at or above the target (it meets it) or entirely below it
(it fails it) draws no more chips. Every other point goes on to the spec's ``chips``. The
decision uses every chip of the finished rounds, in chip order, so it is the same for any
number of workers, any finishing order and after a resume. What each point used and
decided is stored in the store's meta ``sequential`` (and the report's per-point chips
count shows it); without ``sequential:`` every point gets every chip (fixed n, the default).
"""

from __future__ import annotations

import json
from collections import defaultdict

from accelsim.campaign.analyses import METRICS, wilson_interval


def _point(params) -> tuple:
    """A yield point: model, scheme, chip model (each its own population of chips), voltage."""
    return (params.model, params.scheme, json.dumps(getattr(params, "chip_model", None), sort_keys=True),
            params.vdd, params.ber)


def decide(passing: int, n: int, target: float) -> str | None:
    """'meets' / 'fails' when the Wilson interval of passing / n lies at or above / below
    ``target``, else None (draw more chips)."""
    lo, hi = wilson_interval(passing, n)
    if lo >= target:
        return "meets"
    if hi < target:
        return "fails"
    return None


def run_sequential(spec, trials: list, pending: list, store, execute) -> list:
    """Run the ``pending`` jobs (key, params, image_dir) of ``trials`` round by round,
    dropping the chips of decided points; returns the jobs that ran."""
    seq = spec.sequential
    metric = METRICS[spec.metric]
    per_point = spec.chips * spec.repeats
    order = defaultdict(list)     # point -> its trial keys in chip order
    for params in trials:
        order[_point(params)].append(params.key)
    todo = {job[0]: job for job in pending}
    results = {r["key"]: r for r in store.rows()}
    state: dict[tuple, dict] = {}
    ran = []
    upto = 0
    while upto < per_point:
        upto = min(upto + seq.step, per_point)
        open_points = [pt for pt in order if pt not in state]
        batch = [todo.pop(key) for pt in open_points for key in order[pt][:upto] if key in todo]
        execute(batch)
        ran += batch
        results.update({r["key"]: r for r in store.rows() if r["key"] in {j[0] for j in batch}})
        for pt in open_points:
            rows = [results[k] for k in order[pt][:upto] if k in results]
            if len(rows) < min(upto, len(order[pt])):   # a limited run: this round is not complete
                continue
            passing = sum(metric.within(float(r[metric.column]), float(r[metric.baseline]) if metric.baseline
                                        else 0.0, seq.tolerance) for r in rows)
            verdict = decide(passing, len(rows), seq.target)
            if verdict is not None or upto >= per_point:
                lo, hi = wilson_interval(passing, len(rows))
                state[pt] = {"chips": len(rows), "passing": passing, "decision": verdict or "undecided",
                             "yield_lo": lo, "yield_hi": hi}
        if len(state) == len(order):
            break
    store.set_meta("sequential", {"target": seq.target, "tolerance": seq.tolerance, "step": seq.step,
                                  "chips_max": per_point,
                                  "points": [{"model": m, "scheme": s, "chip_model": json.loads(c), "vdd": v, "ber": b,
                                              **state.get((m, s, c, v, b), {})} for (m, s, c, v, b) in order]})
    return ran
