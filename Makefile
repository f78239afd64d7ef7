# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each sets up what is missing (a virtual environment in .venv with the package and its
# dev extra; Icarus Verilog and Yosys from Debian when we are root; Debian's Fashion-MNIST,
# the demo's data set, the same way) and then does its job.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# The machine keeps a CPU build of torch on disk; point pip at it so that no CUDA
# build is downloaded.
WHEELS  := $(wildcard /opt/wheels)
PIPFLAGS := $(if $(WHEELS),--find-links $(WHEELS),)
JOBS    ?= 2

.PHONY: demo test setup tools data venv rtl clean bench

demo: venv data   # the main job needs no simulator: the Yosys figures are committed
	$(VPY) -m accelsim demo

test: setup
	$(VPY) -m ruff check accelsim tests benchmarks
	$(VPY) -m pytest -n $(JOBS) --dist loadgroup tests

setup: venv tools data

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

# Fashion-MNIST (60,000 + 10,000 28x28 images) from Debian: `make demo` runs on it and the
# tests that need it skip (with the reason) only where it cannot be installed. Without it the
# demo falls back to the bundled digits and says so.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ] || { [ -n "$$ACCELSIM_DATA" ] && [ -d "$$ACCELSIM_DATA/fashion-mnist" ]; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Fashion-MNIST from Debian (dataset-fashion-mnist, 30 MB)"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; }; } \
		|| echo "accelsim: could not install dataset-fashion-mnist; the demo runs on the bundled digits"; \
	else \
		echo "accelsim: Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist); the demo runs on the bundled digits and the tests that need it are skipped"; \
	fi

rtl: setup
	$(VPY) -m accelsim rtl generate --c --out hdl

bench: setup
	for b in benchmarks/[!_]*.py; do $(VPY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache sim_build
