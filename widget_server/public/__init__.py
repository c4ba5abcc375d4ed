"""What the widget server publishes for anyone: the alerts as feeds, for partners to relay."""
