"""The developer's tools: the demo, the benchmarks, and the roster builder they share with the
tests. Installed where settings.DEVTOOLS is on; product code never imports this package."""
