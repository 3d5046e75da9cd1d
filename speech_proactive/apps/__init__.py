"""Programs for people: translate files (translate) and the live demo (live/)."""
