# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each sets up what is missing (a virtual environment in .venv with the package and its
# dev extra; Icarus Verilog and Yosys from Debian when we are root) and then does its job.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# The machine keeps a CPU build of torch on disk; point pip at it so that no CUDA
# build is downloaded.
WHEELS  := $(wildcard /opt/wheels)
PIPFLAGS := $(if $(WHEELS),--find-links $(WHEELS),)
JOBS    ?= 2

.PHONY: demo test setup tools venv rtl clean bench

demo: venv   # the main job needs no simulator: the Yosys figures are committed
	$(VPY) -m accelsim demo

test: setup
	$(VPY) -m ruff check accelsim tests benchmarks
	$(VPY) -m pytest -n $(JOBS) --dist loadgroup tests

setup: venv tools

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q $(PIPFLAGS) -e '.[dev]'
	touch $(STAMP)

tools:
	@if command -v iverilog >/dev/null && command -v yosys >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing iverilog and yosys from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog yosys >/dev/null; \
	else \
		echo "accelsim: please install Icarus Verilog and Yosys (Debian: sudo apt-get install iverilog yosys)"; exit 2; \
	fi

rtl: setup
	$(VPY) -m accelsim rtl generate --c --out hdl

bench: setup
	for b in benchmarks/*.py; do $(VPY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache sim_build
