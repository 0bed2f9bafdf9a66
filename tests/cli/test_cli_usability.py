"""Small things a user meets first (issue 9, item 5): fast help, named progress steps, whole
model ids at 80 columns, a cost chart that says which prices it uses and why."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from tierroute.classifier.artifacts import list_models
from tierroute.classifier.plots import cost_caption
from tierroute.cli_support import progress_steps
from tierroute.tier_costs import TOP_TIER, WRITEUP_TIER_COSTS, TierCost

HEAVY = ("sklearn", "matplotlib", "fastapi", "uvicorn", "sqlalchemy", "scipy")


def test_importing_the_cli_does_not_import_heavy_libraries() -> None:
    code = f"import sys, tierroute.cli\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_package_still_offers_load_model_lazily(small_models_dir: Path) -> None:
    # tierroute.load_model is the package's edge (None: the TIERROUTE_MODELS_DIR champion); it
    # imports the classifier only when called, and loads what classifier.model.load_model loads.
    code = "import sys, tierroute\nprint(callable(tierroute.load_model), 'sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "False"]
    import tierroute
    from tierroute.classifier.model import load_model

    assert tierroute.load_model(small_models_dir).model_id == load_model(small_models_dir).model_id


def test_progress_names_the_current_step() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    with progress_steps("training", 3, console) as on_step:
        for name in ("grid search", "final fit", "save"):
            on_step(name)
    text = stream.getvalue()
    assert "training: save" in text and "2/3" in text


def test_models_list_keeps_ids_whole_at_80_columns(small_models_dir: Path) -> None:
    env = {**os.environ, "COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "tierroute", "models", "list", "--models", str(small_models_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    lines = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", result.stdout).splitlines()
    assert max(len(line) for line in lines) <= 80
    for card in list_models(small_models_dir):
        assert any(card.model_id in line for line in lines if "*" in line or "-" in line)
        # Not folded: no line holds only the start of the id.
        assert not any(card.model_id[:8] in line and card.model_id not in line for line in lines)


def _reports(routed: float, top: float) -> dict[str, dict[str, object]]:
    cost = {"per_1000_routed_usd": routed, "per_1000_top_tier_usd": top, "top_tier": TOP_TIER}
    return {"model": {"cost": cost, "under_routing_rate": 0.05}}


def test_cost_caption_explains_a_router_dearer_than_the_top_tier() -> None:
    caption = cost_caption(_reports(3.1, 3.0), WRITEUP_TIER_COSTS, TOP_TIER)
    assert caption.startswith("Why model costs more than all on complex_reasoning")
    assert "moderate_conv's claude-sonnet-4.5 ($15/$15 per MTok in/out)" in caption
    assert "complex_reasoning's gpt-4.1 ($8/$8 per MTok in/out)" in caption
    assert cost_caption(_reports(2.9, 3.0), WRITEUP_TIER_COSTS, TOP_TIER) == ""
    # With a top tier that really is the dearest, no tier is blamed.
    honest = {**WRITEUP_TIER_COSTS, TOP_TIER: TierCost("big", 20.0, 20.0)}
    assert "priced above" not in cost_caption(_reports(3.1, 3.0), honest, TOP_TIER)
