"""Reports: HTML (self-contained), Markdown, CSV, JSON and PNG plots from a campaign store."""

from accelsim.report.build import build_report, headline, report_from_store

__all__ = ["build_report", "headline", "report_from_store"]
