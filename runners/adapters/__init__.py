"""Running trainers and viewers that are not Pitwall's: the user's own scripts, unmodified.

- ``output_discovery``: where a foreign trainer writes (a log line, or a new directory);
- ``relay``: auto mode for a viewer of the user's own (re-announces each newer complete
  checkpoint in the state file); started for every profile whose ``play`` is an ``argv``;
- ``log_presets``: log-line metric patterns, registered by the backend they belong to
  (``runners/<backend>/log_presets.yaml``).
"""
