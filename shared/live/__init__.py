"""Live commerce (直播带货) and community selling (社群/团长): rooms and their sync, reminders,
attribution of orders to a room or a community, member prices and leaders' commission."""
