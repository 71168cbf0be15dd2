"""Photos of the items, uploaded while booking and offered to haulers that accept them."""
