"""`kpibot train`, `kpibot score`, `kpibot leads`, `kpibot model`, `kpibot backtest`: lead
scoring."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from bot.cli.common import clock, engine, fail, print_json, settings, user_errors


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("score")(score)
    app.command("leads")(leads)
    app.command("model")(model)
    app.command("backtest")(backtest)


def _now() -> dt.datetime:
    return clock().now()


def train(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    strict: bool = typer.Option(False, "--strict",
                                help="Also exclude last-activity snapshots (STRICT_EXTRA)."),
    exclude: list[str] = typer.Option([], "--exclude",
                                      help="Another field to keep out of the model."),
    no_guard: bool = typer.Option(False, "--no-leakage-guard",
                                  help="Use sales-entered fields too (for comparison only)."),
) -> None:
    """Train a lead-scoring model on leads with a known outcome and store it as a version."""
    from kpi_engine.scoring.guard import LeakageGuard
    from kpi_engine.scoring.train import train_model

    if no_guard and strict:
        fail("--strict and --no-leakage-guard contradict each other.")
    guard = LeakageGuard.off() if no_guard else (
        LeakageGuard.strict() if strict else LeakageGuard.default())
    guard = guard.with_extra(exclude)
    with user_errors():
        config = settings()
        result = train_model(engine(), config.model_dir, _now(), guard,
                             interactions=config.lead_model == "interactions")
    summary = result.summary()
    if as_json:
        print_json(summary)
        return
    q = result.test_quality
    typer.echo(f"Model version {result.version_id}: {result.estimator} "
               f"(CV AUC {', '.join(f'{k} {v:.3f}' for k, v in result.cv_auc.items())}).")
    seen = (f", {q.n:,} rows: each lead at the ages it was still open" if q.n > result.n_test
            else "")
    typer.echo(f"Held out {result.n_test} leads ({result.holdout}{seen}): AUC {q.auc:.3f}, "
               f"Brier {q.brier:.3f}, top-decile lift {q.top_decile_lift:.2f}×, "
               f"base rate {q.base_rate:.1%}.")
    _echo_by_age(result.details.get("holdout_by_age", {}))
    _echo_by_system(result.details.get("holdout_by_system", {}))
    typer.echo(f"{len(result.features)} features; {len(result.dropped)} fields left out "
               f"(see --json). Trained in {result.training_seconds:.1f} s.")
    if no_guard:
        typer.echo("Warning: the leakage guard is off; do not use this model for reps.", err=True)


def score(as_json: bool = typer.Option(False, "--json")) -> None:
    """Score every open lead with the current model and write the scores and reasons back."""
    from kpi_engine.scoring.score import score_open_leads

    with user_errors():
        run = score_open_leads(engine(), _now())
    if as_json:
        print_json({"version": run.version_id, "scored": run.scored,
                    "scored_at": run.scored_at.isoformat(), "histogram": run.histogram})
        return
    typer.echo(f"Scored {run.scored} open leads with model version {run.version_id}.")


def leads(
    rep: str | None = typer.Option(None, "--rep", help="Only this rep's leads (by name)."),
    team: str | None = typer.Option(None, "--team", help="Only this team's leads."),
    everyone: bool = typer.Option(False, "--all", help="Every open lead."),
    source: str | None = typer.Option(None, "--source"),
    since: str | None = typer.Option(None, "--since", help="Created on or after (YYYY-MM-DD)."),
    min_score: float | None = typer.Option(None, "--min-score", min=0, max=100),
    limit: int = typer.Option(10, "--limit", min=1),
    viewer: str | None = typer.Option(None, "--as",
                                      help="Ask as this rep (Slack id or e-mail): a rep sees "
                                           "their own leads, a manager their team's."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Open leads ranked by score, with reasons, owner and last touch."""
    from kpi_engine.scoring.leads import find_viewer, top_leads

    since_date = None
    if since is not None:
        try:
            since_date = dt.date.fromisoformat(since)
        except ValueError:
            fail(f"--since must be a date like 2024-03-01, not '{since}'.")
    with user_errors():
        db = engine()
        who = find_viewer(db, viewer) if viewer else None
        found = top_leads(db, _now(), viewer=who, rep=rep, team=team, everyone=everyone,
                          source=source, since=since_date, min_score=min_score, limit=limit)
    if as_json:
        print_json([lead.as_dict() for lead in found])
        return
    if not found:
        scored = top_leads(db, _now(), everyone=True, limit=1)
        typer.echo("No scored open lead matches these options." if scored else
                   "No scored open leads yet (run `kpibot score` after `kpibot train`).")
        return
    for rank, lead in enumerate(found, 1):
        touch = (f"last touch {lead.days_since_touch:.0f} d ago"
                 if lead.days_since_touch is not None else "never touched")
        typer.echo(f"{rank:>2}. {lead.score:5.1f}  {lead.external_id}  "
                   f"{lead.owner or 'unassigned'}  {touch}")
        for reason in lead.reasons:
            sign = "+" if reason["effect"] == "raises" else "−"
            typer.echo(f"      {sign} {reason['text']}")


def _echo_by_system(by_system: dict[str, dict[str, float]]) -> None:
    """Held-out quality within each CRM, when leads of several are pooled."""
    if by_system:
        typer.echo("Within each source system: " + "; ".join(
            f"{name} AUC {a['auc']:.3f} ({a['rows']:,} rows)" for name, a in by_system.items())
            + " (the AUC above also ranks the systems against each other).")


def _echo_by_age(by_age: dict[str, dict[str, float]]) -> None:
    """Held-out quality per age the leads were seen at, when the model has snapshots."""
    if by_age:
        typer.echo("By age when seen: " + "; ".join(
            f"{age} AUC {a['auc']:.2f}, scored {a['mean_probability']:.0%} vs "
            f"{a['converted']:.0%} converted" for age, a in by_age.items()) + ".")


def model(as_json: bool = typer.Option(False, "--json")) -> None:
    """The current model's quality, age and score drift since training."""
    from kpi_engine.scoring.moments import age_text
    from kpi_engine.scoring.score import model_report

    with user_errors():
        report: dict[str, Any] = model_report(engine(), _now())
    if as_json:
        print_json(report)
        return
    typer.echo(f"Model version {report['version']} ({report['estimator']}), trained "
               f"{age_text(report['age_days'])} ago on {report['n_train']:,} leads.")
    typer.echo(f"Held-out AUC {report['auc']:.3f}, Brier {report['brier']:.3f}, top-decile "
               f"lift {report['top_decile_lift']:.2f}×, base rate {report['base_rate']:.1%}.")
    _echo_by_age(report["holdout_by_age"])
    _echo_by_system(report["holdout_by_system"])
    drift = report["drift_psi"]
    typer.echo(f"Score drift since training: {report['drift']}"
               + (f" (PSI {drift:.3f}, {report['scored_open_leads']} open leads now against the "
                  f"{report['drift_baseline']})." if drift is not None else "."))


def backtest(
    days: list[int] = typer.Option([30, 45, 60], "--days",
                                   help="Replay the CRM as it stood this many days ago "
                                        "(repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Score the leads open on a past day with a model trained on what was known then, and
    compare with what happened to them. Stores nothing."""
    from kpi_engine.scoring.backtest import replay

    if any(d < 1 for d in days):
        fail("--days must be at least 1.")
    with user_errors():
        replays = [replay(engine(), _now() - dt.timedelta(days=d)) for d in days]
    if as_json:
        print_json([r.summary() for r in replays])
        return
    for days_back, r in zip(days, replays, strict=True):
        auc = f"AUC {r.auc:.3f}" if r.auc is not None else "no AUC (one outcome only)"
        typer.echo(f"As of {r.as_of:%Y-%m-%d} ({days_back} days ago): trained on "
                   f"{r.trained_on:,} leads; {len(r.scores):,} leads open then and decided "
                   f"since: {auc}, average score {r.scores.mean():.1%} against "
                   f"{r.converted.mean():.1%} converted.")
        typer.echo("  by age then: " + "; ".join(
            f"{b.label} {b.mean_score:.0%} vs {b.converted:.0%} ({b.leads})" for b in r.by_age))
