"""Sales forecasting and restock advice (预测性分析)."""
