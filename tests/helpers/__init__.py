"""Test helpers shared by tests, benchmarks and scripts: the Playwright browser driver, synthetic batches."""
