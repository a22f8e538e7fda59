"""kpibot's deterministic core: every figure a user sees is computed here."""
