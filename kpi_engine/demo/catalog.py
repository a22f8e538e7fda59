"""The fixed cast and vocabulary of the demo CRM: teams, people, sources, products, stages.

Effects are additive terms on the log-odds of a lead converting; they are what a
lead-scoring model should rediscover from the seeded data.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_SOURCE_SYSTEM = "demo"

# Calendar span of the demo history and how many leads a typical weekday brings.
HISTORY_DAYS = 182
WEEKDAY_LEADS = 41.0
WEEKEND_FACTOR = 0.4


@dataclass(frozen=True)
class DemoTeam:
    name: str
    region: str


@dataclass(frozen=True)
class DemoPerson:
    """One person on a demo team; `key` is the stable external id suffix."""

    key: str
    name: str
    team: str
    role: str  # "manager" | "rep"


TEAMS: tuple[DemoTeam, ...] = (
    DemoTeam("North", "Northeast"),
    DemoTeam("South", "Southeast"),
    DemoTeam("West", "West Coast"),
)

PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("m-north", "Nora Lindqvist", "North", "manager"),
    DemoPerson("r-north-1", "Owen Fairbanks", "North", "rep"),
    DemoPerson("r-north-2", "Priya Natarajan", "North", "rep"),
    DemoPerson("r-north-3", "Liam O'Connell", "North", "rep"),
    DemoPerson("m-south", "Sofia Marquez", "South", "manager"),
    DemoPerson("r-south-1", "Marcus Bell", "South", "rep"),
    DemoPerson("r-south-2", "Hana Takeda", "South", "rep"),
    DemoPerson("r-south-3", "Diego Alvarez", "South", "rep"),
    DemoPerson("m-west", "Wendy Calloway", "West", "manager"),
    DemoPerson("r-west-1", "Tariq Haddad", "West", "rep"),
    DemoPerson("r-west-2", "Chloe Dupont", "West", "rep"),
    DemoPerson("r-west-3", "Ben Okafor", "West", "rep"),
)

# (source, share of leads, conversion log-odds effect). LinkedIn is the largest source so that
# its planted drop (below) stands well clear of sampling noise in a two-week window.
SOURCES: tuple[tuple[str, float, float], ...] = (
    ("Google Ads", 0.20, -0.35),
    ("LinkedIn", 0.34, 0.60),
    ("Organic Search", 0.17, 0.0),
    ("Webinar", 0.11, 0.20),
    ("Referral", 0.10, 0.85),
    ("Partner", 0.08, 0.55),
)
# The planted pattern 1: the leads this source brought in the last two weeks hardly convert
# (a broken campaign or audience): a property of the recent leads, not of a date on which
# every conversion stops, so the cohort conversion rate and the conversions both show it.
DROPPING_SOURCE = "LinkedIn"
DROP_WINDOW_DAYS = 14
DROP_KEEP_SHARE = 0.05  # share of the recent cohort's would-be conversions that still happen

# How long a converting lead takes: inbound leads that want to buy say so within days (the
# fast share), the others are worked over weeks.
FAST_CONVERSION_SHARE = 0.8
FAST_CONVERSION_MEDIAN_DAYS = 1.0

CHANNELS: tuple[tuple[str, float], ...] = (
    ("form", 0.55),
    ("chat", 0.22),
    ("inbound call", 0.12),
    ("event", 0.11),
)

LANDING_PAGES: tuple[tuple[str, float], ...] = (
    ("/pricing", 0.18),
    ("/demo", 0.20),
    ("/product", 0.22),
    ("/blog", 0.25),
    ("/case-studies", 0.15),
)

TITLES: tuple[tuple[str, float, float], ...] = (
    ("VP Sales", 0.10, 0.55),
    ("Head of Marketing", 0.12, 0.45),
    ("Sales Manager", 0.18, 0.30),
    ("Marketing Manager", 0.18, 0.15),
    ("Founder / CEO", 0.10, 0.40),
    ("RevOps Analyst", 0.12, 0.0),
    ("Sales Representative", 0.12, -0.35),
    ("Student", 0.08, -2.30),
)

INDUSTRIES: tuple[tuple[str, float, float], ...] = (
    ("Software", 0.26, 0.30),
    ("Financial Services", 0.14, 0.15),
    ("Healthcare", 0.12, 0.0),
    ("Manufacturing", 0.14, -0.10),
    ("Retail", 0.14, -0.15),
    ("Education", 0.10, -0.40),
    ("Media", 0.10, -0.05),
)

# (size band, share, log-odds effect, typical employees)
COMPANY_SIZES: tuple[tuple[str, float, float, int], ...] = (
    ("1-10", 0.18, -0.55, 6),
    ("11-50", 0.27, 0.0, 28),
    ("51-200", 0.27, 0.25, 110),
    ("201-1000", 0.18, 0.30, 450),
    ("1000+", 0.10, 0.10, 3200),
)

COUNTRIES: tuple[tuple[str, float], ...] = (
    ("United States", 0.46),
    ("United Kingdom", 0.13),
    ("Canada", 0.10),
    ("Germany", 0.09),
    ("Australia", 0.08),
    ("Netherlands", 0.07),
    ("France", 0.07),
)

# (external id, name, series, annual list price)
PRODUCTS: tuple[tuple[str, str, str, float], ...] = (
    ("starter", "Pulse Starter", "Pulse", 4800.0),
    ("growth", "Pulse Growth", "Pulse", 14400.0),
    ("pro", "Pulse Pro", "Pulse", 36000.0),
    ("enterprise", "Pulse Enterprise", "Pulse", 96000.0),
)

# Deal pipeline: (stage, median days in stage, share lost on leaving it).
# The planted pattern 3: deals stall in Proposal (long stays, no activity while there).
DEAL_STAGES: tuple[tuple[str, float, float], ...] = (
    ("Prospecting", 3.0, 0.15),
    ("Qualification", 5.0, 0.20),
    ("Demo", 6.0, 0.20),
    ("Proposal", 26.0, 0.25),
    ("Negotiation", 6.0, 0.20),
)
STALL_STAGE = "Proposal"
STALL_DAYS = 14
WON_STAGE = "Won"
LOST_STAGE = "Lost"

LEAD_STAGES = ("New", "Contacted", "Qualified", "Converted", "Disqualified")

# The planted pattern 2: this team answers new leads slowly (median hours to first touch).
SLOW_TEAM = "West"
SLOW_MEDIAN_HOURS = 20.0
FAST_MEDIAN_HOURS = 1.3

# Word lists for company names.
NAME_HEADS = (
    "North", "Blue", "Bright", "Silver", "Iron", "Clear", "Summit", "Harbor", "Maple", "Cedar",
    "Red", "Quick", "Nova", "Atlas", "Pine", "Stone", "Golden", "Swift", "River", "Oak",
    "Lumen", "Vertex", "Orbit", "Beacon", "Echo", "Fern", "Granite", "Juniper", "Kestrel", "Delta",
)
NAME_TAILS = (
    "wind", "field", "point", "bridge", "gate", "line", "works", "path", "crest", "ridge",
    "stack", "wave", "leaf", "light", "forge", "peak", "shore", "brook", "port", "view",
)
NAME_KINDS = ("Analytics", "Labs", "Systems", "Group", "Health", "Retail", "Partners", "Media",
              "Logistics", "Software", "Capital", "Foods", "Studios", "Industries")
