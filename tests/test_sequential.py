"""Sequential yield decisions (opt-in): a point stops drawing chips once the Wilson
interval of its yield is entirely above or below the target; fixed n stays the default."""

import pytest

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign.analyses import chips_for_yield
from accelsim.campaign.sequential import decide
from accelsim.errors import UserError

from test_campaign import spec, stable


def test_decisions_follow_the_wilson_interval():
    need = chips_for_yield(0.95)          # 73: the fewest all-passing chips whose lower bound reaches 95 %
    assert decide(need, need, 0.95) == "meets" and decide(need - 1, need - 1, 0.95) is None
    assert decide(0, 10, 0.95) == "fails" and decide(9, 10, 0.95) is None
    assert decide(20, 25, 0.95) == "fails"     # Wilson upper bound of 0.8 at n = 25 is 0.91
    assert decide(24, 25, 0.95) is None


@pytest.mark.slow
def test_sequential_points_stop_early_on_the_fixed_n_trials(tmp_path):
    """Target 80 % (16 all-passing chips reach it): at a voltage where every chip passes the
    point draws 16 chips in rounds of 8, where every chip fails it stops after the first 8;
    its trials are the fixed-n campaign's first chips (same keys, so the same bits), the
    same with 1 and 2 workers; fixed n (no ``sequential``) would run all 40 chips."""
    kw = dict(schemes=["none-8b"], voltages=[0.70, 0.46], chips=40, samples=20)
    seq = parse_spec(spec(**kw, sequential={"target": 0.8, "tolerance": 0.01, "step": 8}))
    got = []
    for workers in (1, 2):
        info = run_campaign(seq, tmp_path / f"seq{workers}.sqlite", workers=workers, progress=False)
        store = Store(tmp_path / f"seq{workers}.sqlite")
        got.append((stable(store.rows()), store.meta()["sequential"]))
        assert info["total"] == 80
    (rows, meta), (rows2, meta2) = got
    assert rows == rows2 and meta == meta2
    used = {p["vdd"]: (p["chips"], p["decision"]) for p in meta["points"]}
    low = used[0.46]
    assert used[0.7] == (16, "meets") and low[1] == "fails" and low[0] in (8, 16, 24)   # whole rounds, early
    assert info["ran"] == 16 + low[0] == len(rows)
    assert sorted(r["chip"] for r in rows if r["vdd"] == 0.46) == list(range(low[0]))
    assert sorted(r["chip"] for r in rows if r["vdd"] == 0.7) == list(range(16))
    assert len(parse_spec(spec(**kw)).trials()) == 80


def test_sequential_needs_whole_image_faults():
    with pytest.raises(UserError, match="sequential"):
        parse_spec(spec(layers="each", sequential={}))
