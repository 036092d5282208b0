"""The panes of the run view. Each turns the model's state into what its widgets show, and
asks the app to act; none reads files or touches processes itself (the core does)."""
