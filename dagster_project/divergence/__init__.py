"""Divergence detection: smoke (a leading metric moving the good way) without fire (an outcome
moving the bad way or staying flat), turned into alerts and decisions people answer."""
