"""What to say and when: which tracks are worth a sentence, and the words for them. May import: vision, config, language."""
