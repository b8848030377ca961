"""techscout crawlers: source configuration, the generic spider and crawl-level components."""
