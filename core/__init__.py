"""techscout's shared core: what every other part of the product stands on.

* :mod:`core.errors` — the one exception tree (every deliberate error derives from ``TechscoutError``);
* :mod:`core.items` — the items that flow through the product (``Page``, ``Article``, ``UrlState``);
* :mod:`core.settings` — every setting declared once, as data, and read from file, environment and options;
* :mod:`core.paths` — the names of the files and folders in the data directory;
* :mod:`core.clock` — the clock and the product's time zone (Asia/Shanghai);
* :mod:`core.schedule` — schedule expressions (``every 6h``, cron);
* :mod:`core.values` — parsing of booleans and other small values, one way everywhere;
* :mod:`core.netguard` — the outbound-URL guard: one parser of URLs and one check of the addresses they reach.

The core imports nothing else of the project (a test over the import graph keeps it so).
"""
