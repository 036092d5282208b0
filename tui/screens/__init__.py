"""The screens of the control center: runs, launch, run view, help, confirm."""
