"""Commodity markets by stage (minerals and components): see :mod:`.markets` for the daily step."""
from .data import CHINA, REGIONS, item_groups, item_sections
from .markets import MineralMarkets

__all__ = ["CHINA", "REGIONS", "MineralMarkets", "item_groups", "item_sections"]
