"""Generate the demo CRM in memory: deterministic for a seed and a `today`, no database.

Rows are plain dicts keyed by column name. References between rows use placeholder keys
that start with an underscore (`_owner`, `_lead`, ...) holding the referenced row's
external id; `kpi_engine.demo.seed` swaps them for database ids when inserting.

Times are drawn in the workspace's local wall-clock time (people work in business
hours) and stored as naive UTC, like every timestamp in the schema. The history ends at
the start of `today`, so every figure is settled whatever time of day the clock says.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from kpi_engine.demo import catalog as c
from kpi_engine.demo.summary import PlantedPattern

Row = dict[str, Any]

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
TIME_COLUMNS = ("created_at", "converted_at", "last_activity_at", "occurred_at", "closed_at")
TARGET_METRICS = (
    "leads_created",
    "lead_conversion_rate",
    "deals_won",
    "revenue_won",
    "win_rate",
    "speed_to_lead_hours",
)


@dataclass(frozen=True)
class DemoData:
    """Every demo row, in insertion order, plus the patterns measured on them."""

    teams: tuple[Row, ...]
    reps: tuple[Row, ...]
    products: tuple[Row, ...]
    accounts: tuple[Row, ...]
    leads: tuple[Row, ...]
    deals: tuple[Row, ...]
    activities: tuple[Row, ...]
    stage_events: tuple[Row, ...]
    targets: tuple[Row, ...]
    patterns: tuple[PlantedPattern, ...]
    history_start: dt.date


def generate_demo(
    today: dt.date, *, seed: int = 42, timezone: str = "UTC", fiscal_year_start_month: int = 1
) -> DemoData:
    """Build the whole demo CRM for the six months before `today`."""
    return _Generator(today, seed, ZoneInfo(timezone), fiscal_year_start_month).run()


class _Generator:
    def __init__(self, today: dt.date, seed: int, tz: ZoneInfo, fiscal_start: int) -> None:
        self.rng = random.Random(seed)
        # Marketing touches (email opens, content downloads) draw from their own stream, so
        # adding them left every planted pattern and figure of the main stream unchanged.
        self.marketing_rng = random.Random(seed + 1)
        self.today = today
        self.tz = tz
        self.fiscal_start = fiscal_start
        # Local wall-clock bounds; converted to UTC only when a row is written.
        self.horizon = dt.datetime.combine(today, dt.time())
        self.start = self.horizon - c.HISTORY_DAYS * DAY
        self.drop_start = self.horizon - c.DROP_WINDOW_DAYS * DAY
        self.team_of = {p.key: p.team for p in c.PEOPLE}
        self.rep_keys = [p.key for p in c.PEOPLE if p.role == "rep"]
        self.activities: list[Row] = []
        self.stage_events: list[Row] = []
        self.accounts: list[Row] = []
        self.account_names: set[str] = set()
        # Measurements for the summary, in local time.
        self.first_touch_hours: dict[str, list[float]] = defaultdict(list)
        self.stage_days: dict[str, list[float]] = defaultdict(list)
        self.offsets: dict[tuple[dt.date, int], dt.timedelta] = {}

    # ---- helpers ---------------------------------------------------------------------

    def utc(self, local: dt.datetime) -> dt.datetime:
        # The offset only changes at DST switches, so cache it per local hour.
        key = (local.date(), local.hour)
        offset = self.offsets.get(key)
        if offset is None:
            offset = local.replace(tzinfo=self.tz).utcoffset() or dt.timedelta()
            self.offsets[key] = offset
        return (local - offset).replace(microsecond=0)

    def pick(self, options: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
        """One option, weighted by its second field."""
        return self.rng.choices(options, weights=[o[1] for o in options])[0]

    def count(self, mean: float) -> int:
        """A Poisson-like count (normal approximation is plenty for daily volumes)."""
        return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))

    def add_activity(self, kind: str, direction: str, at: dt.datetime, *, lead: str | None = None,
                     deal: str | None = None, rep: str | None = None, detail: str) -> None:
        if at >= self.horizon:
            return
        self.activities.append({
            "external_id": f"X-{len(self.activities) + 1:06d}", "type": kind,
            "direction": direction, "occurred_at": at, "_lead": lead, "_deal": deal,
            "_rep": rep, "detail": detail,
        })

    def add_stage(self, process: str, case: str, entity: str, seq: int, from_stage: str | None,
                  to_stage: str, at: dt.datetime, owner: str) -> None:
        self.stage_events.append({
            "_process": process, "case_id": case, "entity_type": entity,
            "_lead": case if entity == "lead" else None,
            "_deal": case if entity == "deal" else None,
            "seq": seq, "from_stage": from_stage, "to_stage": to_stage, "occurred_at": at,
            "_owner": owner,
        })

    def business_time(self, day: dt.datetime) -> dt.datetime:
        """A moment of working hours on the day of `day`."""
        return dt.datetime.combine(day.date(), dt.time()) + self.rng.triangular(8, 18, 11) * HOUR

    # ---- the CRM ---------------------------------------------------------------------

    def run(self) -> DemoData:
        teams = tuple({"name": t.name, "region": t.region} for t in c.TEAMS)
        managers = {p.team: p.key for p in c.PEOPLE if p.role == "manager"}
        region = {t.name: t.region for t in c.TEAMS}
        reps = tuple(
            {
                "external_id": p.key, "name": p.name,
                "email": p.name.lower().replace("'", "").replace(" ", ".") + "@demo.kpibot.example",
                "slack_user_id": f"U0DEMO{i:04d}", "role": p.role, "_team": p.team,
                "_manager": None if p.role == "manager" else managers[p.team],
                "region": region[p.team], "active": True,
            }
            for i, p in enumerate(c.PEOPLE, start=1)
        )
        products = tuple(
            {"external_id": key, "name": name, "series": series, "list_price": price}
            for key, name, series, price in c.PRODUCTS
        )
        leads = self.make_leads()
        deals = self.make_deals(leads)
        targets = self.make_targets(leads, deals)
        patterns = self.measure_patterns(leads, deals)
        self.note_last_activities(leads)
        return DemoData(
            teams=teams, reps=reps, products=products, accounts=tuple(self.accounts),
            leads=tuple(self.to_utc(r) for r in leads),
            deals=tuple(self.to_utc(r) for r in deals),
            activities=tuple(self.to_utc(r) for r in self.activities),
            stage_events=tuple(self.to_utc(r) for r in self.stage_events),
            targets=targets, patterns=patterns, history_start=self.start.date(),
        )

    def to_utc(self, row: Row) -> Row:
        out = dict(row)
        for column in TIME_COLUMNS:
            value = out.get(column)
            if value is not None:
                out[column] = self.utc(value)
        return out

    def make_leads(self) -> list[Row]:
        leads: list[Row] = []
        for day_index in range(c.HISTORY_DAYS):
            day = self.start + day_index * DAY
            weekend = c.WEEKEND_FACTOR if day.weekday() >= 5 else 1.0
            growth = 0.85 + 0.3 * day_index / c.HISTORY_DAYS  # a business that is growing
            times = sorted(
                day + self.rng.triangular(7, 20, 10.5) * HOUR
                for _ in range(self.count(c.WEEKDAY_LEADS * weekend * growth))
            )
            for created in times:
                leads.append(self.make_lead(f"L-{len(leads) + 1:05d}", created))
        return leads

    def make_lead(self, key: str, created: dt.datetime) -> Row:
        rng = self.rng
        source, _, source_effect = self.pick(c.SOURCES)
        if source == "Webinar" and rng.random() < 0.7:
            channel = "event"
        else:
            channel = self.pick(c.CHANNELS)[0]
        owner = rng.choice(self.rep_keys)
        title, _, title_effect = self.pick(c.TITLES)
        industry, _, industry_effect = self.pick(c.INDUSTRIES)
        size, _, size_effect, _ = self.pick(c.COMPANY_SIZES)
        country = self.pick(c.COUNTRIES)[0]
        # Latent buying intent drives the behaviour we observe; the model sees only behaviour.
        intent = rng.gauss(0.0, 1.0)
        visits = max(1, round(rng.lognormvariate(1.0 + 0.35 * intent, 0.5)))
        time_on_site = round(rng.lognormvariate(5.6 + 0.35 * intent, 0.6))
        pages = round(max(1.0, rng.gauss(2.6 + 0.5 * intent, 0.8)), 1)
        pricing_visits = max(0, round(rng.gauss(0.7 + 0.9 * intent, 0.9)))
        email_opens = max(0, round(rng.gauss(3.0 + 1.4 * intent, 2.0)))
        downloads = max(0, round(rng.gauss(0.8 + 0.5 * intent, 0.8)))
        webinar = source == "Webinar" or rng.random() < 0.06

        slow = self.team_of[owner] == c.SLOW_TEAM
        median = c.SLOW_MEDIAN_HOURS if slow else c.FAST_MEDIAN_HOURS
        delay_hours = rng.lognormvariate(math.log(median), 0.6)
        first_touch = created + delay_hours * HOUR

        logit = (
            -3.7 + source_effect + title_effect + industry_effect + size_effect
            + 0.45 * min(pricing_visits, 4) + 0.0015 * min(time_on_site, 1200)
            + 0.12 * min(email_opens, 10) + 0.5 * webinar + 0.2 * math.log1p(visits)
            + 0.25 * min(downloads, 3)
            - (0.5 if delay_hours > 12 else 0.0)  # slow answers lose some leads
        )
        will_convert = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        if (source == c.DROPPING_SOURCE and created >= self.drop_start
                and rng.random() >= c.DROP_KEEP_SHARE):
            will_convert = False  # planted pattern 1: this source's recent leads hardly convert
        if rng.random() < c.FAST_CONVERSION_SHARE:
            lag_days = rng.lognormvariate(math.log(c.FAST_CONVERSION_MEDIAN_DAYS), 0.5)
        else:
            lag_days = 1.0 + rng.gammavariate(2.0, 4.0)
        converted_at = self.business_time(created + lag_days * DAY)
        if converted_at <= first_touch + 12 * HOUR:
            converted_at = self.business_time(first_touch + DAY)
        disqualified_at = self.business_time(
            max(created + rng.uniform(8, 40) * DAY, first_touch + DAY))

        converted = will_convert and converted_at < self.horizon
        lost = not will_convert and disqualified_at < self.horizon
        status = "converted" if converted else "lost" if lost else "open"
        end = converted_at if converted else disqualified_at if lost else self.horizon
        touched = first_touch < self.horizon
        if touched:
            self.first_touch_hours[self.team_of[owner]].append(delay_hours)

        # An open lead browses as it will until its outcome, not squeezed into the days it
        # has had so far (the visits after now are simply not recorded yet).
        visit_end = converted_at if will_convert else disqualified_at
        self.lead_activities(key, owner, channel, created, first_touch if touched else None,
                             end, visit_end, visits, pricing_visits,
                             converted_at if converted else None)
        self.marketing_touches(key, created, end, visit_end, email_opens, downloads)
        self.lead_stages(key, owner, created, first_touch if touched else None, status,
                         converted_at, disqualified_at)
        return {
            "external_id": key, "source": source, "channel": channel,
            "landing_page": self.pick(c.LANDING_PAGES)[0], "created_at": created,
            "_owner": owner, "_account": None, "status": status, "converted": converted,
            "converted_at": converted_at if converted else None,
            "title": title, "industry": industry, "company_size": size, "country": country,
            "total_visits": float(visits), "time_on_site_seconds": float(time_on_site),
            "pages_per_visit": pages, "last_activity": None, "last_activity_at": None,
            "attributes": {
                "pricing_page_visits": pricing_visits, "email_opens": email_opens,
                "content_downloads": downloads, "webinar_attended": webinar,
            },
        }

    def lead_activities(self, key: str, owner: str, channel: str, created: dt.datetime,
                        first_touch: dt.datetime | None, end: dt.datetime,
                        visit_end: dt.datetime, visits: int, pricing_visits: int,
                        converted_at: dt.datetime | None) -> None:
        rng = self.rng
        if channel == "form":
            self.add_activity("form", "inbound", created, lead=key, detail="demo request form")
        elif channel == "chat":
            self.add_activity("web_visit", "inbound", created, lead=key, detail="website chat")
        elif channel == "inbound call":
            self.add_activity("call", "inbound", created, lead=key, rep=owner,
                              detail="inbound call")
        else:
            self.add_activity("form", "inbound", created, lead=key, detail="event badge scan")
        span_days = max(0.1, min((visit_end - created) / DAY, 21.0))
        for i in range(min(visits - 1, 3)):
            page = "pricing page" if i < pricing_visits else rng.choice(
                ("product page", "blog post", "case study"))
            at = created + rng.uniform(0.05, span_days) * DAY
            if at < end:
                self.add_activity("web_visit", "inbound", at, lead=key, detail=page)
        if first_touch is None:
            return
        self.add_activity(rng.choice(("call", "email")), "outbound", first_touch, lead=key,
                          rep=owner, detail="first touch")
        at = first_touch
        for _ in range(rng.randint(1, 3)):
            at += rng.gammavariate(2.0, 1.5) * DAY
            if at >= end:
                break
            self.add_activity(rng.choice(("call", "email", "email")), "outbound", at, lead=key,
                              rep=owner, detail="follow-up")
        if converted_at is not None:
            gap = min(DAY, (converted_at - first_touch) / 2)
            self.add_activity("meeting", "outbound", converted_at - gap, lead=key, rep=owner,
                              detail="discovery meeting")

    def marketing_touches(self, key: str, created: dt.datetime, end: dt.datetime,
                          visit_end: dt.datetime, email_opens: int, downloads: int) -> None:
        """What a marketing-automation tool logs: each email open and content download, spread
        like the visits over the lead's life and recorded only up to its outcome or now."""
        rng = self.marketing_rng
        span_days = max(0.1, min((visit_end - created) / DAY, 21.0))
        touches = [("email", "opened marketing email")] * email_opens
        touches += [("form", "content download form")] * downloads
        for kind, detail in touches:
            at = created + rng.uniform(0.02, span_days) * DAY
            if at < end:
                self.add_activity(kind, "inbound", at, lead=key, detail=detail)

    def lead_stages(self, key: str, owner: str, created: dt.datetime,
                    first_touch: dt.datetime | None, status: str,
                    converted_at: dt.datetime, disqualified_at: dt.datetime) -> None:
        steps: list[tuple[str, dt.datetime]] = [("New", created)]
        if first_touch is not None:
            steps.append(("Contacted", first_touch))
            if status == "converted":
                steps.append(("Qualified", first_touch + (converted_at - first_touch) / 2))
                steps.append(("Converted", converted_at))
            elif status == "lost":
                if self.rng.random() < 0.3:
                    steps.append(("Qualified",
                                  first_touch + (disqualified_at - first_touch) / 2))
                steps.append(("Disqualified", disqualified_at))
        for seq, (stage, at) in enumerate(steps, start=1):
            previous = steps[seq - 2][0] if seq > 1 else None
            self.add_stage("leads", key, "lead", seq, previous, stage, at, owner)

    def make_account(self, industry: str, size: str, country: str) -> str:
        rng = self.rng
        name = f"{rng.choice(c.NAME_HEADS)}{rng.choice(c.NAME_TAILS)} {rng.choice(c.NAME_KINDS)}"
        base, n = name, 2
        while name in self.account_names:
            name, n = f"{base} {n}", n + 1
        self.account_names.add(name)
        typical = next(s[3] for s in c.COMPANY_SIZES if s[0] == size)
        employees = max(2, round(typical * rng.uniform(0.6, 1.6)))
        key = f"A-{len(self.accounts) + 1:05d}"
        self.accounts.append({
            "external_id": key, "name": name, "sector": industry, "employees": employees,
            "size_band": size, "revenue": round(employees * rng.uniform(0.08, 0.25), 2),
            "country": country,
        })
        return key

    def make_deals(self, leads: list[Row]) -> list[Row]:
        origins: list[tuple[dt.datetime, Row | None]] = [
            (lead["converted_at"], lead) for lead in leads if lead["converted"]
        ]
        for _ in range(round(0.1 * len(origins))):  # deals that never were a lead
            day = self.start + self.rng.randrange(c.HISTORY_DAYS) * DAY
            origins.append((self.business_time(day), None))
        origins.sort(key=lambda o: o[0])
        deals: list[Row] = []
        for created, lead in origins:
            deals.append(self.make_deal(f"D-{len(deals) + 1:05d}", created, lead))
        return deals

    def make_deal(self, key: str, created: dt.datetime, lead: Row | None) -> Row:
        rng = self.rng
        if lead is not None:
            owner, industry, size, country = (
                lead["_owner"], lead["industry"], lead["company_size"], lead["country"])
        else:
            owner = rng.choice(self.rep_keys)
            industry, size = self.pick(c.INDUSTRIES)[0], self.pick(c.COMPANY_SIZES)[0]
            country = self.pick(c.COUNTRIES)[0]
        account = self.make_account(industry, size, country)
        if lead is not None:
            lead["_account"] = account
        product_key, _, _, price = self.pick_product(size)
        amount = round(price * rng.uniform(0.8, 1.1) / 100) * 100
        account_name = self.accounts[-1]["name"]

        stage, closed_at, is_won = self.walk_pipeline(key, owner, created)
        return {
            "external_id": key, "name": f"{account_name} - {product_key}",
            "_account": account, "_owner": owner, "_product": product_key,
            "_lead": lead["external_id"] if lead is not None else None, "stage": stage,
            "amount": float(amount), "created_at": created, "closed_at": closed_at,
            "is_won": is_won,
        }

    def pick_product(self, size: str) -> tuple[str, str, str, float]:
        weights = {
            "1-10": (0.8, 0.2, 0.0, 0.0), "11-50": (0.4, 0.5, 0.1, 0.0),
            "51-200": (0.0, 0.5, 0.4, 0.1), "201-1000": (0.0, 0.2, 0.5, 0.3),
            "1000+": (0.0, 0.0, 0.4, 0.6),
        }[size]
        return self.rng.choices(c.PRODUCTS, weights=weights)[0]

    def walk_pipeline(self, key: str, owner: str,
                      created: dt.datetime) -> tuple[str, dt.datetime | None, bool | None]:
        """Move a deal through the stages until it closes or today arrives."""
        rng = self.rng
        previous: str | None = None
        entered = created
        for seq, (stage, median_days, loss_share) in enumerate(c.DEAL_STAGES, start=1):
            self.add_stage("deals", key, "deal", seq, previous, stage, entered, owner)
            exit_at = entered + rng.lognormvariate(math.log(median_days), 0.45) * DAY
            self.deal_activities(key, owner, stage, entered, exit_at)
            if exit_at >= self.horizon:
                return stage, None, None
            self.stage_days[stage].append((exit_at - entered) / DAY)
            lost = rng.random() < loss_share
            if lost or stage == c.DEAL_STAGES[-1][0]:
                final = c.LOST_STAGE if lost else c.WON_STAGE
                self.add_stage("deals", key, "deal", seq + 1, stage, final, exit_at, owner)
                self.add_activity("email", "outbound", exit_at, deal=key, rep=owner,
                                  detail="closed lost" if lost else "contract signed")
                return final, exit_at, not lost
            previous, entered = stage, exit_at
        raise AssertionError("the last stage always closes the deal")

    def deal_activities(self, key: str, owner: str, stage: str, entered: dt.datetime,
                        exit_at: dt.datetime) -> None:
        rng = self.rng
        if stage == c.STALL_STAGE:
            # Planted pattern 3: the proposal goes out, one nudge, then silence until it moves.
            self.add_activity("email", "outbound", entered + 0.1 * DAY, deal=key, rep=owner,
                              detail="proposal sent")
            nudge = entered + rng.uniform(1.5, 4.0) * DAY
            if nudge < exit_at:
                self.add_activity("call", "outbound", nudge, deal=key, rep=owner,
                                  detail="proposal follow-up")
            self.add_activity("meeting", "outbound", exit_at - 0.2 * DAY, deal=key, rep=owner,
                              detail="proposal review")
            return
        kinds = {"Prospecting": ("call", "email"), "Qualification": ("call", "email", "meeting"),
                 "Demo": ("meeting", "email"), "Negotiation": ("call", "email", "meeting")}[stage]
        at = entered + rng.uniform(0.05, 0.5) * DAY
        while at < exit_at and at < self.horizon:
            self.add_activity(rng.choice(kinds), "outbound", at, deal=key, rep=owner,
                              detail=stage.lower())
            at += rng.gammavariate(2.0, 1.4) * DAY

    def note_last_activities(self, leads: list[Row]) -> None:
        """Set each lead's last activity from its activity rows."""
        latest: dict[str, Row] = {}
        for row in self.activities:
            lead = row["_lead"]
            if lead is not None and (lead not in latest
                                     or row["occurred_at"] > latest[lead]["occurred_at"]):
                latest[lead] = row
        labels = {"form": "Form Submitted", "web_visit": "Page Visited", "email": "Email",
                  "call": "Call", "meeting": "Meeting"}
        for lead_row in leads:
            last = latest.get(lead_row["external_id"])
            if last is not None:
                lead_row["last_activity"] = labels[last["type"]]
                lead_row["last_activity_at"] = last["occurred_at"]

    # ---- targets ---------------------------------------------------------------------

    def periods(self) -> list[tuple[str, dt.date, dt.date]]:
        month_start = self.today.replace(day=1)
        offset = (self.today.month - self.fiscal_start) % 12
        quarter_month = (self.fiscal_start - 1 + offset - offset % 3) % 12 + 1
        quarter_year = self.today.year - (1 if quarter_month > self.today.month else 0)
        quarter_start = dt.date(quarter_year, quarter_month, 1)
        return [("month", month_start, _add_months(month_start, 1)),
                ("quarter", quarter_start, _add_months(quarter_start, 3))]

    def make_targets(self, leads: list[Row], deals: list[Row]) -> tuple[Row, ...]:
        """Targets a little above the trailing 90-day run rate, so some are at risk."""
        window_start = self.horizon - 90 * DAY
        team_of_owner = self.team_of
        recent_leads = [r for r in leads if r["created_at"] >= window_start]
        mature = [r for r in leads if window_start <= r["created_at"] < self.horizon - 30 * DAY]
        closed = [d for d in deals if d["closed_at"] is not None
                  and d["closed_at"] >= window_start]
        won = [d for d in closed if d["is_won"]]
        conversion = sum(r["converted"] for r in mature) / max(1, len(mature))
        win_rate = len(won) / max(1, len(closed))

        def per_day(rows: list[Row], team: str | None = None, rep: str | None = None,
                    value: str | None = None) -> float:
            picked = [r for r in rows if (team is None or team_of_owner[r["_owner"]] == team)
                      and (rep is None or r["_owner"] == rep)]
            return sum(r[value] if value else 1 for r in picked) / 90.0

        targets: list[Row] = []

        def add(metric: str, kind: str, start: dt.date, end: dt.date, value: float,
                team: str | None = None, rep: str | None = None) -> None:
            owner = "Marketing" if metric.startswith("lead") else "Sales"
            targets.append({"metric": metric, "period_kind": kind, "period_start": start,
                            "period_end": end, "_team": team, "_rep": rep, "value": value,
                            "at_risk_band": 0.1, "owner": owner})

        for kind, start, end in self.periods():
            days = (end - start).days
            scope: list[tuple[str | None, float]] = [(None, 4.0)]
            scope += [(t.name, 2.0) for t in c.TEAMS]
            for team, speed in scope:
                add("leads_created", kind, start, end,
                    float(round(per_day(recent_leads, team) * days * 1.05)), team)
                add("deals_won", kind, start, end,
                    float(math.ceil(per_day(won, team) * days * 1.1)), team)
                add("revenue_won", kind, start, end,
                    float(round(per_day(won, team, value="amount") * days * 1.1, -3)), team)
                add("speed_to_lead_hours", kind, start, end, speed, team)
            add("lead_conversion_rate", kind, start, end, round(conversion + 0.02, 2))
            add("win_rate", kind, start, end, round(win_rate + 0.03, 2))
            if kind == "month":
                for rep in self.rep_keys:
                    add("deals_won", kind, start, end,
                        float(math.ceil(per_day(won, rep=rep) * days * 1.1)), rep=rep)
        return tuple(targets)

    # ---- the planted patterns, measured --------------------------------------------

    def measure_patterns(self, leads: list[Row], deals: list[Row]) -> tuple[PlantedPattern, ...]:
        return (self.source_drop(leads), self.slow_team(), self.stalled_stage(deals))

    def source_drop(self, leads: list[Row]) -> PlantedPattern:
        def rate(rows: list[Row]) -> float:
            return sum(r["converted"] for r in rows) / max(1, len(rows))

        src = c.DROPPING_SOURCE
        recent = [r for r in leads if r["created_at"] >= self.drop_start]
        earlier = [r for r in leads if r["created_at"] < self.drop_start]
        prior_start = self.drop_start - c.DROP_WINDOW_DAYS * DAY

        def converted_between(start: dt.datetime, end: dt.datetime) -> int:
            return sum(1 for r in leads if r["source"] == src and r["converted"]
                       and start <= r["converted_at"] < end)

        facts = {
            "recent_conversion_rate": rate([r for r in recent if r["source"] == src]),
            "earlier_conversion_rate": rate([r for r in earlier if r["source"] == src]),
            "other_sources_recent_conversion_rate": rate(
                [r for r in recent if r["source"] != src]),
            "converted_last_14_days": converted_between(self.drop_start, self.horizon),
            "converted_previous_14_days": converted_between(prior_start, self.drop_start),
        }
        return PlantedPattern(
            "source_conversion_drop",
            f"{src} leads of the last {c.DROP_WINDOW_DAYS} days hardly convert: "
            f"{facts['recent_conversion_rate']:.1%} of them converted, against "
            f"{facts['earlier_conversion_rate']:.1%} before and "
            f"{facts['other_sources_recent_conversion_rate']:.1%} for the other sources' "
            f"recent leads; {src} conversions fell from "
            f"{facts['converted_previous_14_days']:.0f} to "
            f"{facts['converted_last_14_days']:.0f} (previous vs last 14 days).",
            facts,
        )

    def slow_team(self) -> PlantedPattern:
        medians = {team: statistics.median(hours)
                   for team, hours in sorted(self.first_touch_hours.items())}
        others = [h for team, h in medians.items() if team != c.SLOW_TEAM]
        facts = {f"median_hours_to_first_touch_{team.lower()}": h for team, h in medians.items()}
        return PlantedPattern(
            "slow_speed_to_lead",
            f"Team {c.SLOW_TEAM} is slow to answer new leads: median "
            f"{medians[c.SLOW_TEAM]:.1f} h from lead creation to the first outbound touch, "
            f"against {min(others):.1f}-{max(others):.1f} h for the other teams.",
            facts,
        )

    def stalled_stage(self, deals: list[Row]) -> PlantedPattern:
        medians = {stage: statistics.median(days) for stage, days in self.stage_days.items()}
        last_touch: dict[str, dt.datetime] = {}
        for row in self.activities:
            deal = row["_deal"]
            if deal is not None and row["occurred_at"] > last_touch.get(deal, dt.datetime.min):
                last_touch[deal] = row["occurred_at"]
        quiet_since = self.horizon - c.STALL_DAYS * DAY
        open_deals = [d for d in deals if d["closed_at"] is None]
        stalled = [d for d in open_deals if d["stage"] == c.STALL_STAGE
                   and last_touch.get(d["external_id"], d["created_at"]) <= quiet_since]
        facts: dict[str, float] = {
            f"median_days_in_{stage.lower()}": days for stage, days in medians.items()}
        facts["open_deals"] = len(open_deals)
        facts[f"open_deals_in_{c.STALL_STAGE.lower()}"] = sum(
            1 for d in open_deals if d["stage"] == c.STALL_STAGE)
        facts[f"stalled_open_deals_in_{c.STALL_STAGE.lower()}"] = len(stalled)
        others = [d for s, d in medians.items() if s != c.STALL_STAGE]
        return PlantedPattern(
            "stalled_stage",
            f"Deals stall in {c.STALL_STAGE}: median {medians[c.STALL_STAGE]:.0f} days in the "
            f"stage against at most {max(others):.0f} in any other, and {len(stalled)} open "
            f"deals sit there with no activity for {c.STALL_DAYS}+ days.",
            facts,
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
