"""The model parts a world is made of, in daily step order. Add a mechanism here to plug it in."""
from __future__ import annotations

from .fabs import FabFleets
from .market import MineralMarkets
from .industries import Industries
from .economy import Economy

MECHANISMS: list = [FabFleets, MineralMarkets, Industries, Economy]
