# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: demo test setup lint

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/chimein demo

lint: setup
	.venv/bin/ruff check chimein tests

test: setup
	@bash scripts/test-services.sh
	.venv/bin/ruff check chimein tests
	.venv/bin/python -m pytest -ra
