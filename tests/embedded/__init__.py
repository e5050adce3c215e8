"""Tests of the embedded (SQLite diary) adapter."""
