"""SkeletonSteering's own checkout, played by Pitwall: a hot-swapping viewer of its pickles."""
