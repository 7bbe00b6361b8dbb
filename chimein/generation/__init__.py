"""Speaking: language-model backends, spoken-style text shaping, speech synthesis."""
