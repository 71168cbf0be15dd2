"""``make bench``: benchmarks that print ratios against a baseline measured in the same run.

They are not tests: nothing here asserts a speed. Every number is measured on this
machine in this run, next to its baseline, so the ratio is what to read (absolute
times on a small shared machine mean little). Everything runs on loopback, in
bounded loops, and stops by itself.
"""
