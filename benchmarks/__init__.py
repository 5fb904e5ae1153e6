"""s3saver's benchmarks: ``python -m benchmarks [--quick]`` (see README.md in this folder)."""
