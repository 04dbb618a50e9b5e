"""Reference data every stage shares: regions, Regsosek code lists, NIK/KK rules."""
