"""Spiders: the generic list/feed/sitemap spider serves every source."""
