"""What the widget server publishes for anyone: the alerts as feeds, for partners to relay,
and the observatory's weekly counts as open data."""
