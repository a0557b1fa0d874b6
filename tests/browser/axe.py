"""axe-core (vendored under vendor/, MPL-2.0) run in the page: accessibility violations."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
# What fails a test: WCAG 2.x A and AA rules (and axe's best practices) at these impacts.
BLOCKING = ("serious", "critical")


def axe_violations(page, *, impacts=BLOCKING) -> list[str]:
    """One line per violation of ``impacts`` on the current page: rule, impact, where."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """async () => {
            const run = await axe.run(document, {resultTypes: ["violations"]});
            return run.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in results
        if v["impact"] in impacts
    ]
