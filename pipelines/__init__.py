"""techscout item pipelines: each module is one stage, a pure function under a thin Scrapy pipeline class.

Order (see ``crawlers.settings.ITEM_PIPELINES``): extract → normalize → spam → dedup → classify → route → store.
"""
