"""Render-only widgets: they show state handed to them and never read files or touch processes."""
