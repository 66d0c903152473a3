"""The AI shopping guide and customer service (AI客服与智能导购), grounded in the shop's facts."""
