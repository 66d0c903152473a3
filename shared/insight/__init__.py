"""Insight: what shoppers do (tracking, 埋点), who they are (profiles, tags, 画像/标签) and
which change works better (A/B tests). Sits above orders: it hears of orders through domain
events and reads them; marketing and the areas above read its tags and events."""
