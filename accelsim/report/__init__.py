"""Reports: HTML (self-contained), Markdown, CSV, JSON and PNG plots from a campaign store.

Attributes load on first use (accelsim.lazy): the CLI answers --help without matplotlib."""

from accelsim.lazy import lazy_exports

__all__ = ["build_report", "headline", "report_from_store"]
__getattr__ = lazy_exports(__name__, {name: "accelsim.report.build" for name in __all__})
