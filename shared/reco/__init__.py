"""Recommendation (猜你喜欢): models trained offline and nightly, served with the shop's rules."""
