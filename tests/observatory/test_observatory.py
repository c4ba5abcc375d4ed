from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from observatory_data import (
    END,
    SEED,
    START,
    WAVE_CATEGORY,
    WAVE_DAY,
    Expected,
    expected,
    make_events,
    make_store,
)

from testkit.samples import TINY_PARTNER, sample_events
from widget_server.cli import command as cli
from widget_server.observatory.disclosure import Figure, suppress
from widget_server.observatory.event import Event
from widget_server.observatory.events import EventStore
from widget_server.observatory.export import report_csv, report_json
from widget_server.observatory.figures import (
    MAX_DAYS,
    Labels,
    Period,
    PeriodError,
    Report,
    Table,
    build_report,
)
from widget_server.observatory.waves import WaveLog, WaveRule, detect_waves, tail_score, waves_today
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog

EVENTS = make_events()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = make_store(tmp_path_factory.mktemp("observatory"), EVENTS)
    yield store
    store.close()


@pytest.fixture(scope="module")
def report(store: EventStore) -> Report:
    return build_report(store, Period(START, END))


def check_table(table: Table, want: Expected, threshold: int = 5) -> None:
    """Every row of ``table``: the exact count, "< 5" when small, "hidden" never when small."""
    keys = {row.key for row in table.rows}
    expected_keys = set(want.tables[table.name])
    if table.name in ("days", "weeks"):
        assert expected_keys <= keys
    else:
        assert keys == expected_keys
    total = want.totals["completed"]
    for row in table.rows:
        for measure, figure in row.figures.items():
            count = want.tables[table.name].get(row.key, Counter())[measure]
            assert figure.count == count, (table.name, row.key, measure)
            if 0 < count < threshold:
                assert figure.hidden and str(figure) == f"< {threshold}"
            elif figure.hidden:
                assert str(figure) == "hidden"
            else:
                assert str(figure) == str(count)
        if table.share_of:
            figure = row.figures[table.share_of]
            if figure.hidden:
                assert row.share is None
            else:
                assert row.share == pytest.approx(figure.count / total)


def assert_not_recomputable(total: Figure, parts: list[Figure]) -> None:
    """A published total with exactly one hidden part would give that part away."""
    if total.hidden or total.count == 0:
        return
    assert sum(1 for part in parts if part.hidden) != 1


def test_totals_and_rates(report: Report) -> None:
    want = expected(EVENTS)
    for name in ("started", "completed", "reported", "with_identity"):
        assert report.totals[name] == Figure(want.totals[name], False, 5)
    assert want.totals["completed"] > 2000
    assert report.rates["completion_rate"] == pytest.approx(
        want.totals["completed"] / want.totals["started"]
    )
    assert report.rates["report_share"] == pytest.approx(
        want.totals["reported"] / want.totals["completed"]
    )
    assert report.rates["identity_share"] == pytest.approx(
        want.totals["with_identity"] / want.totals["reported"]
    )


def test_every_table_matches_the_events(report: Report) -> None:
    want = expected(EVENTS)
    names = [table.name for table in report.tables]
    assert names == [
        "families",
        "categories",
        "victim_kinds",
        "severities",
        "partners",
        "countries",
        "locales",
        "days",
        "weeks",
    ]
    for table in report.tables:
        check_table(table, want)


def test_the_mix_is_the_one_planted(report: Report) -> None:
    families = {row.key: row.share for row in report.table("families").rows}
    assert families["fraud"] == pytest.approx(0.6, abs=0.03)
    assert families["sexual_blackmail"] == pytest.approx(0.21, abs=0.03)
    kinds = {row.key: row.share for row in report.table("victim_kinds").rows}
    assert kinds["individual"] == pytest.approx(0.94, abs=0.02)
    assert [row.key for row in report.table("severities").rows] == [
        "info",
        "low",
        "medium",
        "high",
        "critical",
    ]


def test_the_tiny_partner_is_shown_as_less_than_five(report: Report) -> None:
    (row,) = [row for row in report.table("partners").rows if row.key == TINY_PARTNER]
    assert 0 < row.figures["completed"].count < 5
    assert str(row.figures["completed"]) == "< 5"
    assert row.share is None


def test_no_hidden_count_can_be_found_by_subtraction(report: Report) -> None:
    completed = report.totals["completed"]
    for name in ("families", "categories", "victim_kinds", "severities", "countries", "locales"):
        assert_not_recomputable(
            completed, [r.figures["completed"] for r in report.table(name).rows]
        )
    for row in report.table("families").rows:
        parts = [r.figures["completed"] for r in report.table("categories").rows]
        family_parts = [
            p
            for p, r in zip(parts, report.table("categories").rows, strict=True)
            if r.family == row.key
        ]
        assert_not_recomputable(row.figures["completed"], family_parts)
    days = report.table("days").rows
    for kind in ("started", "completed", "reported"):
        total = report.totals[kind]
        assert_not_recomputable(total, [r.figures[kind] for r in report.table("partners").rows])
        assert_not_recomputable(total, [r.figures[kind] for r in days])
        for week in report.table("weeks").rows:
            in_week = [
                r.figures[kind] for r in days if _iso_week(date.fromisoformat(r.key)) == week.key
            ]
            assert_not_recomputable(week.figures[kind], in_week)
    with_identity = report.totals["with_identity"]
    anonymous = report.totals["reported"].count - with_identity.count
    assert not with_identity.hidden and anonymous >= 5


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def test_a_small_partner_alone_shows_nothing_exact(store: EventStore) -> None:
    report = build_report(store, Period(START, END, TINY_PARTNER))
    want = expected(EVENTS, partner=TINY_PARTNER)
    assert 0 < want.totals["completed"] < 5
    assert str(report.totals["completed"]) == "< 5"
    assert report.rates == {
        "completion_rate": None,
        "report_share": None,
        "identity_share": None,
    }
    for table in report.tables:
        check_table(table, want)
        for row in table.rows:
            assert all(f.hidden or f.count == 0 for f in row.figures.values())
    assert report.waves == ()


def test_a_partner_filter_counts_that_partner_only(store: EventStore) -> None:
    period = Period(date(2025, 2, 1), date(2025, 2, 28), "bank")
    report = build_report(store, period)
    want = expected(EVENTS, period.start, period.end, "bank")
    assert report.totals["started"].count == want.totals["started"]
    for table in report.tables:
        check_table(table, want)
    assert [row.key for row in report.table("partners").rows] == ["bank"]


def test_the_wave_is_flagged_on_its_day_and_no_other(report: Report) -> None:
    assert [(w.day, w.category, w.family) for w in report.waves] == [
        (WAVE_DAY, WAVE_CATEGORY, "sexual_blackmail")
    ]
    (wave,) = report.waves
    on_day = [e for e in EVENTS if e.kind == "completed" and e.day == WAVE_DAY]
    assert wave.count == sum(1 for e in on_day if e.category == WAVE_CATEGORY)
    assert wave.total == len(on_day)
    assert wave.share == pytest.approx(wave.count / wave.total)
    window = [e for e in EVENTS if e.kind == "completed" and 0 < (WAVE_DAY - e.day).days <= 28]
    assert wave.baseline_total == len(window)
    assert wave.baseline == pytest.approx(
        sum(1 for e in window if e.category == WAVE_CATEGORY) / len(window)
    )
    assert wave.share > 0.4 and wave.baseline < 0.1
    assert wave.score > 15


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_flag_the_planted_wave_only(tmp_path: Path, seed: int) -> None:
    events = make_events(seed)
    store = make_store(tmp_path, events)
    report = build_report(store, Period(START, END))
    assert [(w.day, w.category) for w in report.waves] == [(WAVE_DAY, WAVE_CATEGORY)]


def test_a_period_starting_on_the_wave_still_sees_the_days_before(store: EventStore) -> None:
    report = build_report(store, Period(WAVE_DAY, WAVE_DAY))
    assert [w.day for w in report.waves] == [WAVE_DAY]
    report = build_report(store, Period(WAVE_DAY + timedelta(days=1), END))
    assert report.waves == ()


def test_no_wave_without_the_planted_one(tmp_path: Path) -> None:
    calm = sample_events(seed=SEED, start=START, days=60, per_day=40)
    store = make_store(tmp_path, list(calm))
    assert build_report(store, Period(START, END)).waves == ()


def test_waves_today_looks_at_one_day(store: EventStore) -> None:
    assert [w.category for w in waves_today(store, today=WAVE_DAY)] == [WAVE_CATEGORY]
    assert waves_today(store, today=WAVE_DAY + timedelta(days=1)) == []


def test_the_wave_log_warns_once_without_victim_data(
    report: Report, caplog: pytest.LogCaptureFixture
) -> None:
    log = WaveLog()
    with caplog.at_level(logging.WARNING, logger="widget_server.waves"):
        log.note(report.waves)
        log.note(report.waves)
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith("observatory: wave on 2025-02-12 in category blackmail_email")
    assert "all partners" in message


# -- the wave rule, on hand-made days ---------------------------------------------


def flat(days: int, per_day: dict[str, int], start: date = START) -> dict[date, dict[str, int]]:
    return {start + timedelta(days=i): dict(per_day) for i in range(days)}


def test_a_jump_in_share_is_a_wave_and_a_busy_day_is_not() -> None:
    per_day = flat(28, {"fraud/phishing": 40, "sexual_blackmail/blackmail_email": 4})
    busy = START + timedelta(days=28)
    per_day[busy] = {"fraud/phishing": 400, "sexual_blackmail/blackmail_email": 40}
    assert detect_waves(per_day, [busy]) == []
    per_day[busy] = {"fraud/phishing": 40, "sexual_blackmail/blackmail_email": 30}
    (wave,) = detect_waves(per_day, [busy])
    assert (wave.day, wave.category, wave.count, wave.total) == (
        busy,
        "blackmail_email",
        30,
        70,
    )
    assert wave.baseline == pytest.approx(4 / 44)
    assert wave.baseline_total == 28 * 44


@pytest.mark.parametrize(
    ("rule", "flagged"),
    [
        (WaveRule(), True),
        (WaveRule(min_count=31), False),
        (WaveRule(min_baseline=28 * 44 + 1), False),
        (WaveRule(min_ratio=5.0), False),
        (WaveRule(min_score=100), False),
        (WaveRule(window_days=7, min_baseline=7 * 44), True),
    ],
)
def test_each_condition_of_the_rule_is_needed(rule: WaveRule, flagged: bool) -> None:
    per_day = flat(28, {"fraud/phishing": 40, "sexual_blackmail/blackmail_email": 4})
    day = START + timedelta(days=28)
    per_day[day] = {"fraud/phishing": 40, "sexual_blackmail/blackmail_email": 30}
    assert bool(detect_waves(per_day, [day], rule)) is flagged


def test_a_rare_category_with_a_few_more_cases_is_not_a_wave() -> None:
    per_day = flat(28, {"fraud/phishing": 400, "system_attacks/ransomware": 2})
    day = START + timedelta(days=28)
    per_day[day] = {"fraud/phishing": 400, "system_attacks/ransomware": 10}
    assert detect_waves(per_day, [day], WaveRule()) == []
    assert detect_waves(per_day, [day], WaveRule(min_score=3)) != []


def test_the_tail_score_is_the_exact_binomial_tail() -> None:
    for k, m, q in [(3, 10, 0.2), (10, 30, 0.1), (1, 1, 0.5), (25, 60, 0.25)]:
        tail = sum(math.comb(m, i) * q**i * (1 - q) ** (m - i) for i in range(k, m + 1))
        assert tail_score(k, m, q) == pytest.approx(-math.log10(tail))
    assert tail_score(0, 10, 0.5) == 0.0
    assert tail_score(5000, 5000, 0.01) > 9000


# -- the small-count rule, on hand-made tables ------------------------------------


def test_suppress_hides_small_counts_and_one_more_when_alone() -> None:
    counts = {"total": 33, "a": 3, "b": 10, "c": 20, "z": 0}
    assert suppress(counts, [("total", ["a", "b", "c", "z"])], 5) == {"a", "b"}
    counts = {"total": 25, "a": 3, "b": 2, "c": 20}
    assert suppress(counts, [("total", ["a", "b", "c"])], 5) == {"a", "b"}
    counts = {"total": 3, "a": 3, "z": 0}
    assert suppress(counts, [("total", ["a", "z"])], 5) == {"total", "a"}


def test_suppress_follows_chains_of_tables() -> None:
    counts = {"total": 60, "w1": 30, "w2": 30, "d1": 3, "d2": 27, "d3": 15, "d4": 15}
    groups = [("total", ["w1", "w2"]), ("w1", ["d1", "d2"]), ("w2", ["d3", "d4"])]
    hidden = suppress(counts, groups, 5)
    assert {"d1", "d2"} <= hidden
    counts = {"total": 12, "a": 12, "x": 3, "y": 9}
    groups = [("total", ["a"]), ("a", ["x", "y"])]
    assert suppress(counts, groups, 5) == {"x", "y"}


def test_a_hidden_total_hides_one_of_its_shown_parts() -> None:
    counts = {"top": 23, "a": 3, "b": 20, "b1": 10, "b2": 10}
    groups = [("top", ["a", "b"]), ("b", ["b1", "b2"])]
    assert suppress(counts, groups, 5) == {"a", "b", "b1"}
    counts = {"total": 30, "p": 6, "q": 3, "r": 21}
    assert suppress(counts, [("total", ["p", "q", "r"])], 5) == {"p", "q"}


# -- periods, labels and exports --------------------------------------------------


def test_a_period_defaults_to_the_last_28_days() -> None:
    period = Period.parse(None, None, "", today=date(2025, 3, 1))
    assert (period.start, period.end, period.partner) == (date(2025, 2, 2), date(2025, 3, 1), None)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-02-30", None, "from: expected a date"),
        (None, "yesterday", "to: expected a date"),
        ("2025-03-02", "2025-03-01", "after the end"),
        ("2020-01-01", "2025-01-01", f"at most {MAX_DAYS} days"),
    ],
)
def test_a_bad_period_is_refused(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Period.parse(start, end, None, today=date(2025, 3, 1))


def test_labels_come_from_the_catalog_or_the_ids(catalog: Catalog) -> None:
    labels = Labels.from_catalog(catalog)
    assert labels("category", "blackmail_email") == "Fake webcam blackmail email"
    assert labels("country", "MA") == "Morocco"
    assert Labels()("category", "blackmail_email") == "Blackmail email"
    assert Labels()("victim_kind", "public_body") == "Public bodies"
    assert Labels()("country", "unknown") == "Not known"


def test_the_json_export_carries_the_published_figures(report: Report) -> None:
    data = json.loads(json.dumps(report_json(report)))
    want = expected(EVENTS)
    assert data["period"] == {"from": "2025-01-01", "to": "2025-03-01", "partner": None}
    assert data["totals"]["completed"] == want.totals["completed"]
    for table in report.tables:
        rows = data["tables"][table.name]["rows"]
        assert [r["key"] for r in rows] == [row.key for row in table.rows]
        for item, row in zip(rows, table.rows, strict=True):
            for measure, figure in row.figures.items():
                assert item[measure] == (str(figure) if figure.hidden else figure.count)
            if table.share_of:
                assert item["share"] == (None if row.share is None else round(row.share, 4))
    tiny = [r for r in data["tables"]["partners"]["rows"] if r["key"] == TINY_PARTNER]
    assert tiny[0]["completed"] == "< 5" and tiny[0]["share"] is None
    (wave,) = data["waves"]
    assert (wave["day"], wave["category"]) == ("2025-02-12", WAVE_CATEGORY)


def test_the_csv_export_carries_the_same_figures(report: Report) -> None:
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[0] == ["section", "key", "label", "measure", "value"]
    found = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert found["totals", "completed", "count"] == str(report.totals["completed"].count)
    for table in report.tables:
        for row in table.rows:
            for measure, figure in row.figures.items():
                assert found[table.name, row.key, measure] == str(figure)
            if table.share_of:
                share = "" if row.share is None else f"{row.share:.4f}"
                assert found[table.name, row.key, "share"] == share
    assert found["partners", TINY_PARTNER, "completed"] == "< 5"
    assert found["partners", TINY_PARTNER, "share"] == ""
    assert found["waves", f"2025-02-12/{WAVE_CATEGORY}", "count"] == str(report.waves[0].count)


# -- the command ------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("WIDGET_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    make_store(tmp_path, EVENTS).close()
    return tmp_path


def test_the_command_prints_figures_and_the_wave(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["observatory", "--from", "2025-01-01", "--to", "2025-03-01"]) == 0
    out = capsys.readouterr().out
    want = expected(EVENTS)
    assert "Observatory: 2025-01-01 to 2025-03-01 (UTC), all partners" in out
    (line,) = [line for line in out.splitlines() if line.startswith("  Diagnoses completed")]
    assert line.split()[-1] == str(want.totals["completed"])
    waves = [line for line in out.splitlines() if "WAVE" in line]
    assert len(waves) == 1
    assert waves[0].startswith("  WAVE 2025-02-12 Fake webcam blackmail email (blackmail_email)")
    assert f"  {TINY_PARTNER}" in out


def test_the_command_exports_json_and_csv(
    data_dir: Path, store: EventStore, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["observatory", "--from", "2025-02-01", "--to", "2025-02-28", "--partner", "bank"]
    assert cli.main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    period = Period(date(2025, 2, 1), date(2025, 2, 28), "bank")
    labels = Labels.from_catalog(catalog)
    assert data == json.loads(json.dumps(report_json(build_report(store, period, labels=labels))))
    assert cli.main([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out == report_csv(build_report(store, period, labels=labels))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(PROJECT_ROOT / "trees")


def test_the_command_explains_a_missing_database_or_a_bad_date(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_env: None,
) -> None:
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "nowhere"))
    assert cli.main(["observatory"]) == 1
    assert "no observatory database at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    EventStore(tmp_path / "observatory.sqlite3").close()
    assert cli.main(["observatory", "--from", "March"]) == 1
    assert "from: expected a date as YYYY-MM-DD" in capsys.readouterr().err


def test_an_empty_store_gives_zeros_not_errors(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "observatory.sqlite3")
    report = build_report(store, Period(START, START + timedelta(days=6)))
    assert report.totals["completed"] == Figure(0, False, 5)
    assert report.rates["completion_rate"] is None
    assert len(report.table("days").rows) == 7
    assert report.table("families").rows == ()


def test_an_event_with_unknown_fields_counts_as_not_known(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "observatory.sqlite3")
    event = Event(
        kind="completed",
        day=START,
        partner="bank",
        tree="phishing",
        tree_version="v1",
        locale="fr",
        category="phishing",
        family="fraud",
        severity="high",
    )
    store.add_many([event] * 6)
    report = build_report(store, Period(START, START))
    assert [(r.key, r.label) for r in report.table("victim_kinds").rows] == [
        ("unknown", "Not known")
    ]
    assert [r.key for r in report.table("countries").rows] == ["unknown"]


def completions(day: date, category: str, family: str, n: int) -> list[Event]:
    event = Event(
        kind="completed",
        day=day,
        partner="small-town",
        tree=family,
        tree_version="v1",
        locale="fr",
        country="FR",
        victim_kind="individual",
        category=category,
        family=family,
        severity="low",
    )
    return [event] * n


def test_a_wave_on_a_day_whose_total_is_hidden_shows_no_share(tmp_path: Path) -> None:
    wave_day = date(2025, 2, 12)
    events: list[Event] = []
    for back in range(1, 29):
        events += completions(wave_day - timedelta(days=back), "phishing", "fraud", 20)
    events += completions(wave_day, "blackmail_email", "sexual_blackmail", 12)
    events += completions(wave_day + timedelta(days=1), "phishing", "fraud", 2)
    store = make_store(tmp_path, events)
    report = build_report(store, Period(date(2025, 2, 10), date(2025, 2, 13)))
    days = {row.key: str(row.figures["completed"]) for row in report.table("days").rows}
    assert days == {
        "2025-02-10": "20",
        "2025-02-11": "20",
        "2025-02-12": "hidden",
        "2025-02-13": "< 5",
    }
    (wave,) = report.waves
    assert (wave.day, wave.count, wave.total) == (wave_day, 12, 12)
    assert report.wave_shares_hidden == {wave_day}
    assert report_json(report)["waves"][0]["share"] is None
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert ["waves", "2025-02-12/blackmail_email", "blackmail_email", "share", ""] in rows


def test_the_threshold_can_be_raised(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["observatory", "--from", "2025-01-01", "--to", "2025-03-01", "--format", "json"]
    assert cli.main([*argv, "--threshold", "50"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["threshold"] == 50
    categories = {r["key"]: r["completed"] for r in data["tables"]["categories"]["rows"]}
    assert categories["ransomware"] == "< 50"
    assert cli.main([*argv, "--threshold", "0"]) == 1
    assert "--threshold must be at least 1" in capsys.readouterr().err
