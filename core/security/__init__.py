"""Secret custody (envelopes), hashing, inbound callback checks and outbound webhook signing."""
