"""The benchmark's pure parts (bench/load.py): wrk output parsing, statistics, the critical
path and overhead, the Lua script and the results table. No load is generated here."""

from __future__ import annotations

import json
import math

import pytest

from bench.load import (
    TABLE_HEADER,
    Case,
    Operation,
    Step,
    WrkRun,
    collapse_profile,
    critical_path_ms,
    lua_string,
    page_critical_path_ms,
    parse_wrk,
    percentile,
    ratio_rows,
    render_lua,
    render_markdown,
    rss_growth,
    saturated,
    split_common,
    step_from,
    summarize_overhead,
    table_row,
    target_lines,
)

WRK_STDOUT = """Running 4s test @ http://127.0.0.1:40000/graphql
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.34ms    3.21ms  80.00ms   90.00%
  Latency Distribution
     50%   11.00ms
     99%   40.00ms
  1000 requests in 4.00s, 13.00MB read
Requests/sec:    250.00
PGW_WRK {"requests":1000,"duration_us":4000000,"bytes":13000000,"gql_errors":2,"degraded":50,\
"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":0},\
"latency_us":{"min":900,"max":80000,"mean":12340.0,"stdev":3210.0,\
"p50":11000,"p75":14000,"p90":20000,"p99":40000,"p999":70000}}
"""


def step(kind: str = "closed", c: int = 1, rps: float = 100.0, **kw: float) -> Step:
    base = {"p50": 10.0, "p90": 15.0, "p99": 30.0, "max": 50.0, "cpu_ms_per_req": 5.0}
    base.update(kw)
    return Step(
        kind=kind,
        connections=c,
        rps=rps,
        p50=base["p50"],
        p90=base["p90"],
        p99=base["p99"],
        max=base["max"],
        requests=1000,
        failed=0,
        cpu_ms_per_req=base["cpu_ms_per_req"],
        target_rps=None,
    )


def test_parse_wrk_reads_the_done_hook_line() -> None:
    run = parse_wrk(WRK_STDOUT)
    assert run.requests == 1000
    assert run.rps == pytest.approx(250.0)
    assert run.ms("p90") == pytest.approx(20.0)
    assert run.ms("p99") == pytest.approx(40.0)
    assert run.failed == 2 + 1 + 3
    assert math.isnan(run.ms("p42"))


def test_parse_wrk_without_the_line_says_so() -> None:
    with pytest.raises(ValueError, match="PGW_WRK"):
        parse_wrk("Running 1s test\nunable to connect to 127.0.0.1:1 Connection refused\n")


def test_step_from_computes_cpu_per_request() -> None:
    s = step_from("closed", 8, parse_wrk(WRK_STDOUT), cpu_s=2.5, target=None)
    assert s.cpu_ms_per_req == pytest.approx(2.5)
    assert (s.p50, s.p90, s.p99) == (11.0, 20.0, 40.0)
    assert s.errors == {"read": 1, "status": 3}
    assert s.degraded == pytest.approx(0.05)
    empty = WrkRun(0, 1_000_000, 0, {}, 0, {})
    assert math.isnan(step_from("closed", 1, empty, 1.0, None).cpu_ms_per_req)


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == pytest.approx(99)
    assert math.isnan(percentile([], 50))


def call(backend: str, ms: float, cache: str = "miss") -> dict[str, object]:
    return {"backend": backend, "endpoint": "x", "ms": ms, "cache": cache, "outcome": "ok"}


def test_critical_path_is_the_longer_of_the_slowest_call_and_retrieval_then_ranking() -> None:
    calls = [call("retrieval", 20), call("ranking", 15), call("bandit", 30), call("catalog", 5)]
    assert critical_path_ms(calls) == 35  # retrieval 20 + ranking 15 > bandit 30
    calls = [call("retrieval", 5), call("ranking", 5), call("bandit", 30)]
    assert critical_path_ms(calls) == 30
    # catalog after retrieval is a chain too
    assert critical_path_ms([call("retrieval", 10), call("catalog", 12)]) == 22


def test_cache_hits_are_gateway_time_not_backend_time() -> None:
    calls = [call("retrieval", 3, "hit"), call("ranking", 2, "hit"), call("bandit", 8, "bypass")]
    assert critical_path_ms(calls) == 8
    assert critical_path_ms([call("catalog", 4, "hit")]) == 0
    assert critical_path_ms([]) == 0


def test_page_critical_path_takes_the_slowest_page() -> None:
    body = {
        "data": {},
        "extensions": {
            "debug": {
                "pages": [
                    {"backendCalls": [call("bandit", 7)]},
                    {"backendCalls": [call("retrieval", 4), call("ranking", 6)]},
                ]
            }
        },
    }
    assert page_critical_path_ms(body) == 10
    assert page_critical_path_ms({"data": {}}) == 0


def test_overhead_is_latency_minus_critical_path_per_request() -> None:
    oh = summarize_overhead(
        [10.0, 12.0, 30.0],
        [8.0, 9.0, 10.0],
        [0.2, 0.3],
        [[call("ranking", 1, "hit"), call("bandit", 8, "bypass")]],
    )
    assert oh.samples == 3
    assert oh.overhead_p50 == pytest.approx(3.0)
    assert oh.overhead_p99 == pytest.approx(19.66)
    assert oh.critical_p50 == 9.0
    assert oh.transport_floor_p50 == pytest.approx(0.25)
    assert oh.cache_hits == {"bandit": 0.0, "ranking": 1.0}
    # never negative (clock granularity between client and server)
    assert summarize_overhead([5.0], [6.0], [0.1]).overhead_p50 == 0


def test_saturation_stops_when_gain_is_small() -> None:
    assert not saturated([step(rps=100)])
    assert not saturated([step(rps=100), step(c=8, rps=200)])
    assert saturated([step(rps=100), step(c=8, rps=200), step(c=32, rps=205)])
    assert saturated([step(rps=100), step(c=8, rps=90)])


def test_saturation_ignores_overloaded_steps_that_served_fallbacks() -> None:
    case = Case("discovery", "mixed", "default", "0 ms")
    case.steps = [step(rps=40), step(c=8, rps=60), step(c=32, rps=250)]
    case.steps[2].degraded = 0.97  # cheap fallback pages: not capacity
    assert case.saturation is not None
    assert case.saturation.connections == 8
    assert saturated(case.steps)
    always = Case("cart", "mixed", "default", "0 ms")  # degraded even when idle
    always.steps = [step(rps=40), step(c=8, rps=60)]
    for s in always.steps:
        s.degraded = 1.0
    assert always.saturation is not None
    assert always.saturation.connections == 8


def test_case_picks_saturation_c1_and_paced() -> None:
    case = Case("discovery", "warm", "standard", "0 ms")
    case.steps = [step(rps=50), step(c=8, rps=300), step(c=32, rps=280)]
    case.steps.append(step("paced", 8, rps=210, p99=25.0))
    assert case.saturation is not None
    assert case.saturation.connections == 8
    assert case.c1 is not None
    assert case.c1.rps == 50
    assert case.paced is not None
    assert case.paced.p99 == 25.0


def test_lua_string_survives_closing_brackets() -> None:
    assert lua_string("abc") == "[[abc]]"
    assert lua_string("a]]b") == "[=[a]]b]=]"
    assert lua_string("a]]b]=]c") == "[==[a]]b]=]c]==]"


def test_render_lua_embeds_every_user_and_the_rate() -> None:
    op = Operation("discovery", "query D { discovery { requestId } }", "D")
    entries = [("tok1", op.body({"location": {"lat": 1, "lon": 2}}, "standard")), ("tok2", b"{}")]
    script = render_lua(entries, rate_rps=123.4, start=7)
    assert "[[tok1]]" in script
    assert "[[tok2]]" in script
    assert "local rate = 123.400" in script
    assert "local start = 7" in script
    assert "PGW_WRK " in script
    assert "%(" not in script
    assert "%%" not in script


def test_persisted_body_has_the_hash_and_no_query_unless_registering() -> None:
    op = Operation("discovery", "query D { discovery { requestId } }", "D")
    standard = json.loads(op.body({}, "standard"))
    assert standard["query"] == op.document
    assert "extensions" not in standard
    persisted = json.loads(op.body({}, "persisted"))
    assert "query" not in persisted
    assert persisted["extensions"]["persistedQuery"] == {"version": 1, "sha256Hash": op.sha256}
    assert json.loads(op.body({}, "persisted", register=True))["query"] == op.document


def test_table_and_ratios() -> None:
    std = Case("discovery", "warm", "strawberry", "0 ms", rss_mb=150.0)
    std.steps = [step(rps=50), step(c=8, rps=100), step("paced", 8, rps=70, p99=20.0)]
    std.steps[1].core_other = 0.3
    fast = Case("discovery", "warm", "default", "0 ms", rss_mb=150.0)
    fast.steps = [step(rps=60, p50=8.0), step(c=8, rps=600, cpu_ms_per_req=2.5)]
    off = Case("cart", "mixed", "persisted", "0 ms", supported=False, note="PersistedQueryNotFound")
    row = table_row(std)
    assert row.count("|") == TABLE_HEADER.count("|")
    assert row.endswith("| 0 | 0% / 0% | 50% / 30% |")  # 100 rps × 5 CPU ms = half the core
    assert "100 (c=8)" in row
    assert "10.0 / 15.0 / 30.0" in row
    assert "(70)" in row
    assert "not supported: PersistedQueryNotFound" in table_row(off)
    assert ratio_rows([std, fast, off]) == [
        "| discovery | warm | default | 0 ms | 6.00× | 0.80× | 0.50× |"
    ]
    md = render_markdown([std, fast, off], {"timestamp": "T", "command": "c", "machine": "m"})
    assert TABLE_HEADER in md
    assert "Ratios to the `strawberry` baseline" in md
    assert "1. Discovery, warm, 1 worker: 600 rps (target ≥ 1000): **not met**" in md


def test_targets_checks_the_issue_numbers() -> None:
    warm = Case("discovery", "warm", "default", "0 ms", rss_mb=120.0)
    warm.steps = [step(c=16, rps=1200)]
    slow = Case("discovery", "mixed", "strawberry", "20±5 ms")
    slow.steps = [step(c=32, rps=500), step("paced", 32, rps=350, p99=55.0)]
    lines = target_lines([warm, slow])
    assert lines[0].endswith("**met**")
    assert "55.0 ms (target ≤ 60): **met**" in lines[1]
    assert "max 120 MB" in lines[2]


def test_rss_growth_after_the_first_minute() -> None:
    flat = [(0.0, 100.0), (30.0, 150.0), (60.0, 160.0), (120.0, 161.0), (180.0, 162.0)]
    assert rss_growth(flat) == pytest.approx(161 / 160 - 1)
    leak = [(60.0, 100.0), (120.0, 110.0), (180.0, 120.0), (240.0, 130.0)]
    assert rss_growth(leak) == pytest.approx(0.2)
    assert math.isnan(rss_growth([(0.0, 100.0), (70.0, 100.0)][:1]))


def test_collapse_profile_own_and_inclusive_shares() -> None:
    raw = "\n".join(
        [
            "main (a/app.py:1);handle (a/app.py:9);execute (strawberry/schema.py:5) 6",
            "main (a/app.py:1);handle (a/app.py:10);encode (orjson/x.py:2) 3",
            "main (a/app.py:1) 1",
            "garbage",
        ]
    )
    prof = collapse_profile(raw)
    assert prof["self"][0] == ("execute (strawberry/schema.py)", 0.6)
    inclusive = dict(prof["inclusive"])
    assert inclusive["main (a/app.py)"] == 1.0
    assert inclusive["handle (a/app.py)"] == 0.9  # two lines of one function merged
    assert collapse_profile("") == {"self": [], "inclusive": []}


def test_split_common_keeps_the_shared_document_once() -> None:
    bodies = ['{"v":{"a":1},"q":"DOC"}', '{"v":{"a":22},"q":"DOC"}']
    head, middles, tail = split_common(bodies)
    assert [head + m + tail for m in middles] == bodies
    assert tail.endswith('"q":"DOC"}')
    assert split_common(["same", "same"]) == ("same", ["", ""], "")
    assert split_common([]) == ("", [], "")
    assert split_common(["ab", "aab"]) == ("a", ["", "a"], "b")


def test_cold_reads_collector_pauses_from_the_metrics_page() -> None:
    from bench.cold import describe_pauses, gc_pauses

    def page(count0: float, sum0: float, count2: float, sum2: float) -> str:
        return (
            "# HELP pgw_gc_pause_seconds ...\n"
            f'pgw_gc_pause_seconds_count{{generation="0"}} {count0}\n'
            f'pgw_gc_pause_seconds_sum{{generation="0"}} {sum0}\n'
            f'pgw_gc_pause_seconds_bucket{{generation="0",le="0.001"}} {count0}\n'
            f'pgw_gc_pause_seconds_count{{generation="2"}} {count2}\n'
            f'pgw_gc_pause_seconds_sum{{generation="2"}} {sum2}\n'
        )

    before = gc_pauses(page(10, 0.02, 1, 0.06))
    after = gc_pauses(page(14, 0.032, 1, 0.06))
    assert before[("count", "0")] == 10
    assert before[("sum", "2")] == 0.06
    assert describe_pauses(before, after) == "gen 0: 4 × 3.0 ms"
    assert describe_pauses(after, after) == "no pauses"
