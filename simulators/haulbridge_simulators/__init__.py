"""Vendor simulators: real servers with their own APIs, used by `make run` and the tests.

They fake *vendors* (a hauler's job system, a mail server, two SMS providers); the database and
the broker are never faked.
"""
