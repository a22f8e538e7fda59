"""The offline router reads questions the way a manager or a rep asks them."""

from __future__ import annotations

import pytest

from tools.intents import IntentKind, metric_names, parse_question

METRICS = metric_names([
    ("leads_created", "Leads created", ["leads", "new leads", "lead volume"]),
    ("lead_conversion_rate", "Lead conversion rate", ["conversion", "conversion rate"]),
    ("win_rate", "Win rate", ["close rate"]),
    ("revenue_won", "Revenue won", ["revenue", "bookings", "sales"]),
    ("deals_won", "Deals won", ["won deals", "wins"]),
    ("speed_to_lead_hours", "Speed to lead", ["response time", "first response"]),
])


@pytest.mark.parametrize(
    ("question", "kind", "metric", "period", "group_by", "grain", "compare"),
    [
        ("how many leads did we get this week?", "metric", "leads_created", "this week", None, None, None),
        ("how's conversion this week?", "metric", "lead_conversion_rate", "this week", None, None, None),
        ("win rate last quarter by team", "metric", "win_rate", "last quarter", "team", None, None),
        ("revenue this month vs last month", "metric", "revenue_won", "this month", None, None, "previous"),
        ("weekly new leads over the last 8 weeks", "metric", "leads_created", "last 8 weeks", None, "week", None),
        ("deals won in Q3 2017 per rep", "metric", "deals_won", "q3 2017", "rep", None, None),
        ("response time by source last 30 days", "metric", "speed_to_lead_hours", "last 30 days", "source", None, None),
        ("are we on track for revenue this quarter?", "pacing", "revenue_won", "this quarter", None, None, None),
        ("why did win rate drop?", "why", "win_rate", None, None, None, None),
        ("my top leads?", "top_leads", None, None, None, None, None),
        ("who should I call first today", "top_leads", None, "today", None, None, None),
        ("where do deals get stuck?", "bottlenecks", None, None, None, None, None),
        ("what metrics do you know?", "list_metrics", None, None, None, None, None),
        # The metric's words in another form and order.
        ("how many deals did we win in Q3?", "metric", "deals_won", "q3", None, None, None),
        ("which rep has the most wins this quarter?", "metric", "deals_won", "this quarter",
         "rep", None, None),
        ("which source brought the most leads this month?", "metric", "leads_created",
         "this month", "source", None, None),
    ],
)
def test_reads_questions(question, kind, metric, period, group_by, grain, compare) -> None:
    intent = parse_question(question, METRICS)
    assert (intent.kind.value, intent.metric, intent.period_text, intent.group_by, intent.grain,
            intent.compare) == (kind, metric, period, group_by, grain, compare)


def test_unknown_metric_keeps_the_words_for_suggestions() -> None:
    intent = parse_question("how is churn doing this month?", METRICS)
    assert intent.kind is IntentKind.METRIC
    assert intent.metric is None
    assert intent.unmatched == "churn"


def test_longest_phrase_wins() -> None:
    # "conversion rate" (lead_conversion_rate) must not lose to a shorter phrase elsewhere.
    assert parse_question("conversion rate last month", METRICS).metric == "lead_conversion_rate"
    assert parse_question("new leads yesterday", METRICS).metric == "leads_created"


def test_stalled_deals_is_a_metric_but_where_they_stall_is_a_journey_question() -> None:
    metrics = metric_names([("stalled_deals", "Stalled deals", ["stuck deals"])])
    assert parse_question("stalled deals by rep", metrics).kind is IntentKind.METRIC
    assert parse_question("where do deals stall?", metrics).kind is IntentKind.BOTTLENECKS


VALUES = {"team": ["West", "North"], "source": ["LinkedIn", "Referral", "Organic Search"],
          "rep": ["Owen Fairbanks"]}


@pytest.mark.parametrize(
    ("question", "metric", "filters", "group_by"),
    [
        ("how's conversion for LinkedIn this week?", "lead_conversion_rate", (("source", "LinkedIn"),), None),
        ("win rate for team west by rep", "win_rate", (("team", "West"),), "rep"),
        ("organic search leads by team", "leads_created", (("source", "Organic Search"),), "team"),
        ("deals won by Owen Fairbanks in March", "deals_won", (("rep", "Owen Fairbanks"),), None),
        ("win rate by team", "win_rate", (), "team"),  # "team" alone names no value
    ],
)
def test_reads_dimension_values_as_filters(question, metric, filters, group_by) -> None:
    intent = parse_question(question, METRICS + metric_names([("deals_won", "Deals won", [])]), VALUES)
    assert (intent.metric, intent.filters, intent.group_by) == (metric, filters, group_by)


@pytest.mark.parametrize(
    ("question", "near_miss"),
    [
        ("how many leads from Linkdin this month", ("source", "Linkdin", ("LinkedIn",))),
        ("win rate for team Wset", ("team", "Wset", ("West",))),
        ("deals won by rep for Owen Fairbank", ("rep", "Owen Fairbank", ("Owen Fairbanks",))),
        ("how's conversion for LinkedIn this week?", None),
        ("are we on track for revenue this quarter?", None),
        ("revenue for the rest of the year", None),
        ("win rate for team west by rep", None),
        ("leads in march", None),
    ],
)
def test_a_misspelt_value_is_caught_not_dropped(question, near_miss) -> None:
    """Answering "leads from Linkdin" with every lead would be a wrong figure, not a typo."""
    assert parse_question(question, METRICS, VALUES).near_miss == near_miss


def test_loose_words_never_beat_an_exact_phrase_nor_stand_alone() -> None:
    # "win rate" is said outright; the loose "deals won" must not take over.
    assert parse_question("win rate of deals we won", METRICS).metric == "win_rate"
    # One shared word is not enough ("won" alone is not "deals won").
    assert parse_question("who won the match?", METRICS).metric is None


@pytest.mark.parametrize(("question", "unread"), [
    ("revenue for the rest of the year", "the rest of the year"),
    ("how many leads will we get next week?", "next week"),
    ("wins by end of month", "by end of month"),
])
def test_a_period_still_to_come_is_kept_not_replaced(question, unread) -> None:
    intent = parse_question(question, METRICS)
    assert (intent.unread_period, intent.period_text) == (unread, None)


def test_on_track_by_the_end_of_the_quarter_paces_this_quarter() -> None:
    intent = parse_question("are we on track for revenue by the end of the quarter?", METRICS)
    assert (intent.kind, intent.metric, intent.period_text) == ("pacing", "revenue_won",
                                                               "this quarter")


@pytest.mark.parametrize(("question", "metric", "group_by"), [
    ("who is the best rep by revenue this quarter?", "revenue_won", "rep"),
    ("top source by revenue last month", "revenue_won", "source"),
])
def test_best_or_top_of_a_dimension_splits_by_it(question, metric, group_by) -> None:
    intent = parse_question(question, METRICS)
    assert (intent.metric, intent.group_by) == (metric, group_by)


REPS = {"rep": ("Priya Natarajan", "Chloe Dupont", "Chloe Martin", "Will Stone")}


@pytest.mark.parametrize(("question", "filters", "near_miss"), [
    ("what's the revenue for Priya?", (("rep", "Priya Natarajan"),), None),
    ("Natarajan's wins last month", (("rep", "Priya Natarajan"),), None),
    ("revenue for Chloe", (), ("rep", "Chloe", ("Chloe Dupont", "Chloe Martin"))),
    # Lower case, or a capitalised first word that is no name here: no rep is read in.
    ("will we hit the revenue target?", (), None),
    ("Will we hit the revenue target?", (("rep", "Will Stone"),), None),
])
def test_a_rep_named_by_first_or_last_name(question, filters, near_miss) -> None:
    intent = parse_question(question, METRICS, REPS)
    assert (intent.filters, intent.near_miss) == (filters, near_miss)


@pytest.mark.parametrize(("message", "kind"), [
    ("thanks!", "courtesy"), ("Thank you", "courtesy"), ("hi", "help"),
    ("Good morning kpibot", "help"), ("thanks, and how many leads this week?", "metric"),
])
def test_greetings_and_thanks_are_not_metric_questions(message, kind) -> None:
    assert parse_question(message, METRICS).kind == kind


@pytest.mark.parametrize(("question", "unknown"), [
    ("deals won by reason", "reason"),
    ("win rate by team", None),
    ("revenue by month", None),
    ("leads by the end of march", None),
])
def test_a_split_by_no_known_dimension_is_kept(question, unknown) -> None:
    assert parse_question(question, METRICS).unknown_split == unknown


@pytest.mark.parametrize(("question", "kind", "mine"), [
    ("show me my pipeline", "metric", "rep"),
    ("my team's win rate this quarter", "metric", "team"),
    ("am I on track for revenue?", "pacing", "rep"),
    ("are we on track for revenue?", "pacing", None),
])
def test_my_reads_whose_figure(question, kind, mine) -> None:
    with_pipeline = (*METRICS, *metric_names([("pipeline_value", "Pipeline value",
                                                      ["pipeline"])]))
    intent = parse_question(question, with_pipeline)
    assert (intent.kind, intent.mine) == (kind, mine)


@pytest.mark.parametrize(("question", "limit", "min_score"), [
    ("top 3 leads", 3, None),
    ("my top 20 leads from LinkedIn", 20, None),
    ("leads with a score above 40", None, 40.0),
    ("top 5 leads scoring over 62.5", 5, 62.5),
])
def test_top_leads_read_how_many_and_how_good(question, limit, min_score) -> None:
    intent = parse_question(question, METRICS)
    assert (intent.kind, intent.limit, intent.min_score) == ("top_leads", limit, min_score)


@pytest.mark.parametrize(("question", "period"), [
    ("how many leads did we get on 2026-12-01?", "2026-12-01"),
    ("revenue between 2026-10-01 and 2026-10-31", "between 2026-10-01 and 2026-10-31"),
    ("wins on 1 Dec 2026", "1 dec 2026"),
    ("leads on December 1st", "december 1st"),
    ("leads in March 2026", "march 2026"),
])
def test_dates_named_in_a_question_are_read(question, period) -> None:
    assert parse_question(question, METRICS).period_text == period


@pytest.mark.parametrize(("question", "lead"), [
    ("why is L-06226 scored 55?", "L-06226"),
    ("what about 7927b2df-8bba-4d29-b9a2-b6e0beafe620", "7927b2df-8bba-4d29-b9a2-b6e0beafe620"),
    ("tell me about lead a9c3e4fbc7ea4b8e9c1b2d3e4f5a6b7c", "a9c3e4fbc7ea4b8e9c1b2d3e4f5a6b7c"),
    ("my top-10 leads", None),
    ("win rate Q3-2017", None),
])
def test_a_lead_named_by_its_id(question, lead) -> None:
    intent = parse_question(question, METRICS)
    assert intent.lead == lead and (intent.kind == "lead") == (lead is not None)


WITH_MORE = (*METRICS, *metric_names([("leads_converted", "Leads converted", ["conversions"])]))
TEAMS = {"team": ("North", "South", "West")}


@pytest.mark.parametrize(("question", "kind", "metric", "group_by", "compare", "filters"), [
    # Several values of one dimension: split by them, side by side, not a period comparison.
    ("win rate for North vs South this quarter", "metric", "win_rate", "team", None,
     (("team", "North"), ("team", "South"))),
    ("win rate for North vs South vs previous quarter", "metric", "win_rate", "team",
     "previous", (("team", "North"), ("team", "South"))),
    # A longer loose phrase that refines the exact one wins ("leads" → leads converted).
    ("how many leads did we convert last month?", "metric", "leads_converted", None, None, ()),
    # The KPI board when nothing else is asked for; an unknown metric stays unknown.
    ("how is team South doing this month?", "pacing", None, None, None, (("team", "South"),)),
    ("give me a summary", "pacing", None, None, None, ()),
    ("how is churn doing?", "metric", None, None, None, ()),
    # Lead quality by source is conversion by source, not the top-leads list.
    ("what is our best lead source?", "metric", "lead_conversion_rate", "source", None, ()),
    ("which source brings the best leads?", "metric", "lead_conversion_rate", "source", None,
     ()),
])
def test_managers_questions(question, kind, metric, group_by, compare, filters) -> None:
    intent = parse_question(question, WITH_MORE, TEAMS)
    assert (intent.kind, intent.metric, intent.group_by, intent.compare,
            tuple(sorted(intent.filters))) == (kind, metric, group_by, compare, filters)


@pytest.mark.parametrize(("question", "stages"), [
    ("what's the conversion rate from demo to proposal?", ("demo", "proposal")),
    ("proposal to won rate last quarter", ("proposal", "won")),
    ("how many deals went from qualification to won?", ("qualification", "won")),
    ("win rate last quarter", None),
])
def test_two_stages_named_for_a_conversion(question, stages) -> None:
    assert parse_question(question, METRICS).stages == stages


@pytest.mark.parametrize(("question", "unapplied", "period"), [
    ("deals won in proposal", "proposal", None),
    ("win rate in europe last month", "europe", "last month"),
    ("revenue in total this year", None, "this year"),
    ("win rate for team West this month", None, "this month"),
    ("pipeline for the quarter", None, "this quarter"),
    ("revenue for the year 2017", None, "2017"),
])
def test_a_filter_that_cannot_be_applied_is_kept(question, unapplied, period) -> None:
    intent = parse_question(question, METRICS, TEAMS)
    assert (intent.unapplied, intent.period_text) == (unapplied, period)
