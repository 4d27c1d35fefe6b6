"""Tests of ``pruning.speed``, one file per module (a package so that names like test_figures stay unique)."""
