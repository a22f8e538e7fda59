"""Lead scoring: a trained, calibrated model with faithful per-lead reasons.

Modules, in the order data flows through them: guard (what the model may not learn
from), features (canonical tables → typed features), pipeline (the sklearn candidates),
train (choose, calibrate, evaluate, store), scorer (the model compiled into exact lookup
tables), reasons (top factors in words), score (write-back and model report), leads (top
leads per viewer), quality (AUC, Brier, lift, drift), samples (frames from the public files).
"""

from __future__ import annotations

from kpi_engine.scoring.guard import DEFAULT_EXCLUDED, STRICT_EXTRA, LeakageGuard
from kpi_engine.scoring.leads import TopLead, Viewer, find_viewer, top_leads
from kpi_engine.scoring.score import current_model, model_report, score_frame, score_open_leads
from kpi_engine.scoring.train import (
    ScoringModel,
    TrainingResult,
    fit_lead_model,
    train_model,
)

__all__ = [
    "DEFAULT_EXCLUDED",
    "STRICT_EXTRA",
    "LeakageGuard",
    "ScoringModel",
    "TopLead",
    "TrainingResult",
    "Viewer",
    "current_model",
    "find_viewer",
    "fit_lead_model",
    "model_report",
    "score_frame",
    "score_open_leads",
    "top_leads",
    "train_model",
]
