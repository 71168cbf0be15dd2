"""Where the resident lives: address points, service zones and their haulers."""
