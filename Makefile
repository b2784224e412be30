# skiff: build, test and demo on a Debian machine, as root.

CARGO ?= cargo
# Debian packages the build, the tests and the demo need beyond Rust, gcc and python3.
DEBS := busybox-static runc crun iproute2 procps pkg-config libseccomp-dev libc6-dev hyperfine \
	qemu-system-x86 cpio podman containerd docker.io netavark nftables iputils-ping \
	docker-registry skopeo apache2-utils umoci uidmap slirp4netns fuse-overlayfs

.PHONY: all deps build release lint test demo clean

all: build

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@command -v cargo-nextest >/dev/null || $(CARGO) install cargo-nextest --locked
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

build:
	$(CARGO) build --workspace --all-targets

# Release binaries: target/release/skiff and target/small/skiff-runtime.
# The runtime is built for size (profile `small`) and linked statically,
# glibc included and without relocations: an engine that starts it pays no
# dynamic loading. The engine stays dynamic: it resolves registry names
# through the host's NSS.
release:
	$(CARGO) build --release -p skiff
	$(CARGO) rustc --profile small -p skiff-runtime --bin skiff-runtime -- \
		-C target-feature=+crt-static -C relocation-model=static

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps lint build release
	$(CARGO) nextest run --workspace
	SKIFF_RUNTIME=$(CURDIR)/target/small/skiff-runtime $(CARGO) nextest run -p skiff-e2e \
		--test lifecycle --test exec --test namespaces --test seccomp --test cgroups
	tests/vm/cgroups-v2.sh
	tests/vm/runtime-v2.sh cgroups
	fuzz/run.sh 10

demo: deps
	$(CARGO) build -p skiff
	scripts/demo.sh target/debug/skiff

clean:
	$(CARGO) clean
