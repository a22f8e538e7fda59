"""Reading a question: which kind of answer it wants and with which arguments.

The offline router uses this to answer without a language model; the agent uses the same
kinds as tools. Parsing is lexical and conservative: when no metric is recognised the
router asks back with the closest metric names rather than guessing.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class IntentKind(StrEnum):
    METRIC = "metric"  # a figure, optionally grouped, as a series or compared
    PACING = "pacing"  # on track against target?
    WHY = "why"  # what drove a change
    TOP_LEADS = "top_leads"  # ranked open leads with reasons
    LEAD = "lead"  # one lead by its id: score and reasons
    BOTTLENECKS = "bottlenecks"  # where the journey gets stuck
    LIST_METRICS = "list_metrics"
    HELP = "help"
    COURTESY = "courtesy"  # thanks, hello: no figure wanted


@dataclass(frozen=True)
class MetricName:
    """What the parser needs to know of a metric to recognise it in a question."""

    name: str
    phrases: tuple[str, ...]  # label and synonyms, lower case


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    metric: str | None = None
    period_text: str | None = None
    group_by: str | None = None
    grain: str | None = None
    compare: str | None = None  # "previous" | "last_year"
    # Dimension values named in the question: (("source", "LinkedIn"),).
    filters: tuple[tuple[str, str], ...] = ()
    # Words that looked like a metric but matched none, for the "did you mean" reply.
    unmatched: str | None = None
    # A value named after "from/for/in" that is close to a known one but not it:
    # (dimension, as written, closest known values). Answering without it would be wrong.
    near_miss: tuple[str, str, tuple[str, ...]] | None = None
    # A period named in words the parser cannot turn into dates ("the rest of the year"):
    # answering for the default period instead would answer another question.
    unread_period: str | None = None
    # "deals lost by reason": a split asked for that is no dimension kpibot knows.
    unknown_split: str | None = None
    # "open deals in proposal": words named as a filter that match no value kpibot knows.
    unapplied: str | None = None
    # "my pipeline", "my team's win rate": whose figure, once the asker is known.
    mine: str | None = None  # "rep" | "team"
    # "conversion from Demo to Proposal": two stages of the journey, as written.
    stages: tuple[str, str] | None = None
    # "why is L-06226 scored 55?": a lead's id as written.
    lead: str | None = None
    # Top leads: "top 5 leads", "leads scoring above 40".
    limit: int | None = None
    min_score: float | None = None


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# Longest alternatives first: "last 30 days" must win over "last".
_PERIOD = re.compile(
    r"\b("
    r"(?:last|past|previous)\s+\d+\s+(?:days?|weeks?|months?|quarters?|years?)"
    r"|\d{4}-\d{2}-\d{2}\s+(?:to|until|-)\s+\d{4}-\d{2}-\d{2}"
    r"|between\s+\d{4}-\d{2}-\d{2}\s+and\s+\d{4}-\d{2}-\d{2}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTHS + r")(?:\s+\d{4})?"
    r"|(?:" + _MONTHS + r")\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?(?!\d)"
    r"|since\s+(?:(?:" + _MONTHS + r")\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{4}-\d{2}-\d{2})"
    r"|(?:this|last|previous|current)\s+(?:week|month|quarter|year)"
    r"|(?<!of\s)the\s+(?:week|month|quarter|year)(?!\s+\d{4})(?!\s+(?:before|after|to))"
    r"|(?:month|quarter|year)[\s-]+to[\s-]+date|mtd|qtd|ytd"
    r"|today|yesterday"
    r"|q[1-4](?:\s+\d{4})?|\d{4}\s+q[1-4]"
    r"|(?:" + _MONTHS + r")(?:\s+\d{4})?"
    r"|fy\s?\d{4}|(?<!-)\b(?:19|20)\d{2}\b(?!-)"
    r")\b",
    re.IGNORECASE,
)
# "conversion from demo to proposal", "demo to proposal rate".
_CONVERSION = re.compile(r"\b(?:conver\w*|rate|percent\w*|share|how many)\b")
_STAGES = re.compile(r"\bfrom\s+([a-z][a-z_-]*)\s+(?:stage\s+)?to\s+([a-z][a-z_-]*)\b"
                     r"|\b([a-z][a-z_-]*)\s+to\s+([a-z][a-z_-]*)\s+(?:conver\w*|rate)\b")
# "our best lead source", "which source brings the best leads": lead conversion, split.
_LEAD_QUALITY = re.compile(r"\b(?:best|top|worst)\s+lead\s+(sources?|channels?)\b"
                           r"|\b(?:which|what)\s+(sources?|channels?|teams?|reps?)\b.*"
                           r"\b(?:best|worst|top)\s+leads\b")
_OVERVIEW = re.compile(
    r"\b(?:doing|summary|overview|digest|status|what changed|how are things)\b")
_OVERVIEW_WORDS = frozenset("doing summary overview digest status changed things give "
                            "quick".split())
# A lead's id as CRMs write them: "L-06226", "LEAD-12", a UUID (X Education), 32 hex (Olist).
_LEAD_ID = re.compile(r"\b(?:[A-Z]{1,6}-\d{2,}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}"
                      r"-[0-9a-fA-F]{12}|[0-9a-f]{32})\b")
# "leads scoring above 40", "leads with a score over 60", "score >= 50".
_SCORE_ABOVE = re.compile(r"\bscor\w*\s+(?:of\s+)?(?:above|over|at least|more than|>=?)\s*"
                          r"(\d{1,3}(?:\.\d+)?)\b")
# Periods still to come. Figures exist only for what has happened; "on track … by the end of
# the quarter" is the pacing of this quarter.
_AHEAD = re.compile(
    r"\b(?:(?:the\s+)?(?:rest|remainder)\s+of\s+(?:the\s+|this\s+)?(week|month|quarter|year)"
    r"|(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(week|month|quarter|year)"
    r"|(?:next|upcoming|coming)\s+(?:\d+\s+)?(?:days?|weeks?|months?|quarters?|years?)"
    r"|tomorrow)\b"
)
_GROUP = re.compile(r"\b(?:by|per|for each|split by|broken down by|across)\s+([a-z_ ]+?)(?:\b|$)")
_GRAIN = {
    "daily": "day",
    "per day": "day",
    "by day": "day",
    "each day": "day",
    "weekly": "week",
    "per week": "week",
    "by week": "week",
    "each week": "week",
    "monthly": "month",
    "per month": "month",
    "by month": "month",
    "each month": "month",
}
_DIMENSION_WORDS = {
    "team": "team",
    "teams": "team",
    "rep": "rep",
    "reps": "rep",
    "owner": "rep",
    "manager": "manager",
    "managers": "manager",
    "region": "region",
    "regions": "region",
    "source": "source",
    "sources": "source",
    "origin": "source",
    "channel": "channel",
    "channels": "channel",
    "product": "product",
    "products": "product",
    "sector": "sector",
    "industry": "sector",
    "segment": "segment",
    "segments": "segment",
    "lead type": "lead_type",
}


def parse_question(text: str, metrics: Sequence[MetricName],
                   values: Mapping[str, Sequence[str]] | None = None) -> Intent:
    """Classify `text` and pull out the metric, period, grouping, filters and comparison.

    First what the question names (a lead id, dimension values, a period, a rep by first
    name); then the first rule that claims it: small talk, leads, the journey, why, pacing,
    else a figure.
    """
    named_lead = _LEAD_ID.search(text)
    if named_lead:
        return Intent(IntentKind.LEAD, lead=named_lead.group(0))
    said = _read_names(text, values or {})
    if isinstance(said, Intent):
        return said
    metric = _match_metric(said.rest, metrics)
    stages = _STAGES.search(said.rest) if _CONVERSION.search(said.rest) else None
    if stages:
        # The router checks the names against the journey's stages and, when they are no
        # stages, answers the rest of the question as it would without them.
        named = [g for g in stages.groups() if g]
        return replace(_figure(said, metric, metrics), stages=(named[0], named[1]))
    for rule in (_small_talk, _about_leads, _journey_or_why, _pacing):
        intent = rule(said, metric, metrics)
        if intent is not None:
            return intent
    return _figure(said, metric, metrics)


@dataclass(frozen=True)
class _Said:
    """A question once the values, the period and the rep it names are read out of it."""

    q: str  # lower case, one space, without the dimension values named
    rest: str  # q without the period either: what is left to name a metric
    period_text: str | None
    filters: tuple[tuple[str, str], ...]


def _read_names(text: str, values: Mapping[str, Sequence[str]]) -> _Said | Intent:
    """What the question names, or a near miss to ask back ("Linkdin", "Chloe" when two)."""
    q = " ".join(text.lower().replace("?", " ").split())
    filters, q = _filters(q, values)
    period_match = _PERIOD.search(q)
    period_text = period_match.group(1) if period_match else None
    if period_text and period_text.startswith("the "):  # "pipeline for the quarter"
        period_text = "this " + period_text.removeprefix("the ")
    # Period words must not be read as a metric ("last week's deals" is about deals).
    rest = _PERIOD.sub(" ", q) if period_match else q
    near_miss = _near_miss(rest, values)
    if not near_miss and all(d != "rep" for d, _ in filters):
        rep, near_miss = _rep_by_part(text, q, values.get("rep", ()))
        if rep:
            filters += (("rep", rep),)
            q, rest = _without_name(q, rep), _without_name(rest, rep)
    if near_miss:
        dimension, phrase, closest = near_miss
        written = re.search(r"\s+".join(map(re.escape, phrase.split())), text, re.IGNORECASE)
        return Intent(IntentKind.METRIC, period_text=period_text, filters=filters,
                      near_miss=(dimension, written.group(0) if written else phrase, closest))
    return _Said(q, rest, period_text, filters)


def _small_talk(said: _Said, metric: str | None, metrics: Sequence[MetricName]
                ) -> Intent | None:
    q = said.q
    if re.search(r"\b(help|what can you do|how do i use)\b", q) or (
            metric is None and _GREETING.fullmatch(q.strip(" !.,"))):
        return Intent(IntentKind.HELP)
    if metric is None and _COURTESY.fullmatch(q.strip(" !.,")):
        return Intent(IntentKind.COURTESY)
    if re.search(r"\b(which|what|list)\b.*\b(metrics|kpis you know|can you measure)\b", q):
        return Intent(IntentKind.LIST_METRICS)
    return None


def _about_leads(said: _Said, metric: str | None, metrics: Sequence[MetricName]
                 ) -> Intent | None:
    q = said.q
    quality = _LEAD_QUALITY.search(q)
    if quality and metric in (None, "leads_created") and any(
            m.name == "lead_conversion_rate" for m in metrics):
        dimension = next(g for g in quality.groups() if g).rstrip("s")
        return Intent(IntentKind.METRIC, metric="lead_conversion_rate", filters=said.filters,
                      period_text=said.period_text, group_by=_DIMENSION_WORDS[dimension])
    threshold = _SCORE_ABOVE.search(q)
    if threshold or (re.search(r"\b(top|best|hottest|call first|who should i call|priorit)\w*", q)
                     and re.search(r"\b(leads?(?! sources?\b)|prospects?|call)\b", q)):
        count = re.search(r"\b(?:top|best|hottest)\s+(\d{1,3})\b", q)
        return Intent(IntentKind.TOP_LEADS, period_text=said.period_text, filters=said.filters,
                      limit=int(count.group(1)) if count else None,
                      min_score=float(threshold.group(1)) if threshold else None)
    return None


def _journey_or_why(said: _Said, metric: str | None, metrics: Sequence[MetricName]
                    ) -> Intent | None:
    q = said.q
    asks_where = re.search(
        r"\b(stuck|bottlenecks?|slow(?:est)?\s+stages?|drop[- ]?offs?|where do)\b", q
    )
    # "stalled deals" alone is a metric; "where do deals stall?" is a journey question.
    if asks_where or (metric is None and re.search(r"\bstall\w*", q)):
        return Intent(IntentKind.BOTTLENECKS, period_text=said.period_text)
    if re.search(r"\b(why|what drove|what caused|explain)\b", q):
        return Intent(IntentKind.WHY, metric=metric, period_text=said.period_text,
                      unmatched=None if metric else _leftover(said.rest))
    return None


def _pacing(said: _Said, metric: str | None, metrics: Sequence[MetricName]) -> Intent | None:
    """On track? (also the KPI board for "how is team South doing?"), or a period to come."""
    q = said.q
    ahead = _AHEAD.search(q) if said.period_text is None else None
    # "how is team South doing?", "give me a summary": the KPI board, when nothing else is
    # asked for ("how is churn doing?" names a metric kpibot lacks: that is said instead).
    overview = metric is None and _OVERVIEW.search(q) and not (
        set((_leftover(said.rest) or "").split()) - _OVERVIEW_WORDS - set(_DIMENSION_WORDS))
    if overview or re.search(r"\b(on track|on pace|pacing|target|behind|ahead|kpis?)\b", q):
        unit = ahead and (ahead.group(1) or ahead.group(2))
        return Intent(IntentKind.PACING, metric=metric, filters=said.filters, mine=_mine(q),
                      period_text=f"this {unit}" if unit else said.period_text)
    if ahead:
        return Intent(IntentKind.METRIC, metric=metric, unread_period=ahead.group(0))
    return None


def _figure(said: _Said, metric: str | None, metrics: Sequence[MetricName]) -> Intent:
    """A metric's figure: grouped, as a series, or compared."""
    q, filters = said.q, said.filters
    if metric is None:
        return Intent(IntentKind.METRIC, period_text=said.period_text,
                      unmatched=_leftover(said.rest))
    grain = next((g for phrase, g in _GRAIN.items() if phrase in q), None)
    group_by = _group_by(q) if grain is None else None
    # "win rate for North vs South": the figure split by the values named, side by side.
    several = [d for d, _ in filters if sum(1 for e, _ in filters if e == d) > 1]
    if several and group_by is None:
        group_by = several[0]
    compare = None
    if (
        re.search(r"\b(last year|year over year|yoy|same period last year)\b", q)
        and said.period_text
        and "last year" not in said.period_text
    ):
        compare = "last_year"
    elif re.search(r"\b(vs\.?|versus|compared?|than|change|previous)\b", q) and not (
            several and not re.search(r"\b(previous|prior|before)\b", q)):
        compare = "previous"
    return Intent(
        IntentKind.METRIC,
        metric=metric,
        period_text=said.period_text,
        group_by=group_by,
        grain=grain,
        filters=filters,
        compare=compare,
        unknown_split=_unknown_split(said.rest) if grain is None and group_by is None else None,
        unapplied=_unapplied(said.rest, metrics),
        mine=_mine(q),
    )


def _mine(q: str) -> str | None:
    """ "my team's …" → team, "my …", "am I …" → rep: whose figure once the asker is known."""
    if re.search(r"\b(?:my|our) team\b", q):
        return "team"
    return "rep" if re.search(r"\b(?:my|am i|i am|i'm)\b", q) else None


def metric_names(definitions: Iterable[tuple[str, str, Iterable[str]]]) -> tuple[MetricName, ...]:
    """Build the parser's view of the catalog from (name, label, synonyms) triples."""
    out = []
    for name, label, synonyms in definitions:
        phrases = {name.replace("_", " "), label.lower(), *(s.lower() for s in synonyms)}
        out.append(MetricName(name, tuple(sorted(phrases, key=len, reverse=True))))
    return tuple(out)


def _match_metric(q: str, metrics: Sequence[MetricName]) -> str | None:
    """The metric whose longest phrase occurs in the question (word-bounded); failing that,
    the one with the most words that all occur in it in some form ("how many deals did we
    win" asks for "deals won")."""
    best: tuple[int, str, str] | None = None
    for metric in metrics:
        for phrase in metric.phrases:
            if re.search(rf"\b{re.escape(phrase)}\b", q):
                if best is None or len(phrase) > best[0]:
                    best = (len(phrase), metric.name, phrase)
                break  # phrases are sorted longest first
    asked = _word_forms(q)
    loose = [(len(words), metric.name, words) for metric in metrics for phrase in metric.phrases
             if len(words := _word_forms(phrase)) > 1 and words <= asked]
    refined = max(loose, default=None)
    if best is None:
        return refined[1] if refined else None
    # "how many leads did Marcus convert" says "leads" outright, and more: leads converted.
    exact = _word_forms(best[2])
    if refined and len(refined[2]) > len(exact) and exact <= refined[2]:
        return refined[1]
    return best[1]


# Irregular forms a question uses where a metric's name has another ("did we win").
_IRREGULAR = {"won": "win", "lost": "lose", "closed": "close", "created": "create",
              "converted": "convert", "bought": "buy", "sold": "sell"}


def _word_forms(text: str) -> frozenset[str]:
    """Words of `text` in one form each: irregular verbs and plurals folded."""
    words = (_IRREGULAR.get(w, w) for w in re.findall(r"[a-z]+", text))
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                     for w in words)


def _filters(q: str, values: Mapping[str, Sequence[str]]
             ) -> tuple[tuple[tuple[str, str], ...], str]:
    """Dimension values the question names, longest first, and the question without them.

    "win rate for team West" filters team = West; the value is then removed so that a value
    that doubles as a word ("Referral") is not read as a metric or a period as well. Several
    values of one dimension ("North and South") are all kept: the figure is split by them.
    """
    found: list[tuple[str, str]] = []
    candidates = sorted(((dim, v) for dim, vs in values.items() for v in vs),
                        key=lambda item: -len(item[1]))
    for dimension, value in candidates:
        pattern = rf"\b{re.escape(value.lower())}\b"
        if re.search(pattern, q):
            found.append((dimension, value))
            q = re.sub(pattern, " ", q)
    return tuple(found), " ".join(q.split())


# "from Linkdin", "for team Wset", "in West Cost": where a question names a value.
_NAMED = re.compile(r"\b(?:from|for|in|at|via)\s+(?:(?:the\s+)?(team|rep|source|region)\s+)?"
                    r"([a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)")
# How close a phrase must be to a known value to be taken for a typo of it; lower when the
# question says which dimension it names ("team Wset").
_NEAR_CUTOFF = 0.8
_NAMED_DIMENSION_CUTOFF = 0.6


def _near_miss(q: str, values: Mapping[str, Sequence[str]]
               ) -> tuple[str, str, tuple[str, ...]] | None:
    """A named value that is not a known one but close to some (a typo): its dimension, the
    words as written and the closest known values. Exact values were already taken out."""
    for match in _NAMED.finditer(q):
        said, words = match.group(1), match.group(2).split()
        dimensions = {said: values.get(said, ())} if said else values
        cutoff = _NAMED_DIMENSION_CUTOFF if said else _NEAR_CUTOFF
        for phrase in dict.fromkeys((" ".join(words), words[0])):
            if phrase.split()[0] in _STOP:
                continue
            for dimension, known in dimensions.items():
                by_lower = {v.lower(): v for v in known}
                close = difflib.get_close_matches(phrase, list(by_lower), n=3, cutoff=cutoff)
                if close and phrase not in by_lower:
                    return dimension, phrase, tuple(by_lower[c] for c in close)
    return None


# "which rep has the most stalled deals?" asks for the figure per rep.
_WHICH = re.compile(r"\b(?:which|what|best|top|worst|highest|lowest|fastest|slowest)\s+"
                    r"([a-z_ ]+?)(?:\b|$)")
# Whole messages that want no figure: a greeting gets the examples, thanks a short reply.
_GREETING = re.compile(r"(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: kpibot)?")
_COURTESY = re.compile(r"(?:thanks?(?: you)?|thx|cheers|great|ok(?:ay)?|cool|bye)(?: kpibot)?")


def _rep_by_part(text: str, q: str, reps: Sequence[str]
                 ) -> tuple[str | None, tuple[str, str, tuple[str, ...]] | None]:
    """A rep named by first or last name alone ("the pipeline for Priya"): (the rep, None)
    when one rep has that name, (None, a near miss to ask back) when several do. Only
    capitalised words count, so that a rep called Will is not read into "will we hit it?"."""
    by_part: dict[str, list[str]] = {}
    for rep in reps:
        for part in dict.fromkeys(rep.split()):
            if len(part) >= 3:
                by_part.setdefault(part.lower(), []).append(rep)
    for word in re.findall(r"\b([A-Z][a-z'’-]+)", text):
        name = re.sub(r"['’]s$", "", word)
        found = by_part.get(name.lower())
        if not found or name.lower() in _STOP or not re.search(rf"\b{name.lower()}\b", q):
            continue
        if len(found) == 1:
            return found[0], None
        return None, ("rep", name, tuple(sorted(found)))
    return None, None


def _without_name(q: str, name: str) -> str:
    """`q` without the words of `name` (and their possessive)."""
    words = "|".join(map(re.escape, name.lower().split()))
    return " ".join(re.sub(rf"\b(?:{words})(?:'s)?\b", " ", q).split())


def _unapplied(rest: str, metrics: Sequence[MetricName]) -> str | None:
    """Words after "in/for/from/at/via" that are no value, period, metric or dimension word:
    a filter kpibot cannot apply ("open deals in proposal"), to be said, not dropped."""
    known = {w for m in metrics for phrase in m.phrases for w in phrase.split()}
    known |= _STOP | _TIME_WORDS | set(_DIMENSION_WORDS) | {"total", "all", "everyone"}
    for match in _NAMED.finditer(rest):
        words = [w for w in match.group(2).split() if w not in known and not w.isdigit()]
        if words and match.group(2).split()[0] not in known:
            return " ".join(words)
    return None


def _group_by(q: str) -> str | None:
    for match in itertools.chain(_GROUP.finditer(q), _WHICH.finditer(q)):
        words = match.group(1).strip()
        for phrase, dimension in sorted(_DIMENSION_WORDS.items(), key=lambda kv: -len(kv[0])):
            if words.startswith(phrase):
                return dimension
    return None


_SPLIT = re.compile(r"\b(?:by|per|split by|broken down by|break(?:\s+it)?\s+down by)\s+"
                    r"([a-z][a-z_]*)")
_TIME_WORDS = frozenset("day days week weeks month months quarter quarters year years date end "
                        "now then close".split())


def _unknown_split(q: str) -> str | None:
    """The word after "by" when it names no dimension, period or grain ("by reason")."""
    for match in _SPLIT.finditer(q):
        word = match.group(1)
        if word not in _STOP and word not in _TIME_WORDS:
            return word
    return None


_STOP = set(
    "how s is are was were the a an of our my we us did do does get got what many much how's "
    "show me tell give in for this that on with to and at by per vs versus compared doing going "
    "whats what's it there".split()
)


def _leftover(q: str) -> str | None:
    words = [w for w in re.findall(r"[a-z_']+", q) if w not in _STOP]
    return " ".join(words) or None
