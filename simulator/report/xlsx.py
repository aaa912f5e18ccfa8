"""One Excel workbook with the run's summary, wide time series and events as sheets (openpyxl)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..api import Result

SHEETS = ("summary", "timeseries_wide", "events")


def write_xlsx(res: "Result", path: Path) -> None:
    """Write ``summary``, ``timeseries_wide`` and ``events`` sheets; dates stay ISO text."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        res.summary.to_excel(xl, sheet_name="summary", index=False)
        wide = res.timeseries_wide
        if wide.shape[1] > 16000:
            wide = wide.iloc[:, :16000]
        wide.to_excel(xl, sheet_name="timeseries_wide", index=False)
        res.events.to_excel(xl, sheet_name="events", index=False)
