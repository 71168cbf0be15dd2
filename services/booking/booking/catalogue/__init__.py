"""What residents may put out for a junk pickup, and where the rest goes."""
