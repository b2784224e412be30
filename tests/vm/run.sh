#!/usr/bin/env bash
# Boot Debian's kernel in qemu on a pure cgroup v2 hierarchy and run test
# binaries there as root.
#
#   tests/vm/run.sh BINARY...
#
# Each BINARY (with the shared libraries ldd names) is copied into a tiny
# busybox initramfs built in a temporary directory. The VM's /init mounts
# cgroup2 on /sys/fs/cgroup, runs the binaries one after the other (libtest
# binaries with --test-threads=1), prints `VM-RESULT <name> exit=<code>` after
# each and powers off. This script prints the VM's console and exits non-zero
# when a binary failed or no result came back.
#
# Environment:
#   SKIFF_VM_KERNEL   kernel image (default: Debian's cloud kernel, unpacked by kernel.sh)
#   SKIFF_VM_ACCEL    kvm or tcg (default: kvm when it works, else tcg)
#   SKIFF_VM_TIMEOUT  seconds before the VM is killed (default 300)
#   SKIFF_VM_APPEND   extra kernel command line (e.g. loglevel=7 to see boot messages)
#   SKIFF_VM_ARGS     extra arguments for every libtest binary (e.g. a test filter)
#   SKIFF_VM_STRIP    set to 0 to keep the binaries' debug info (stripped with objcopy)
#   SKIFF_VM_PVH      set to 0 to boot the compressed kernel rather than its vmlinux
#   SKIFF_VM_KEEP     set to 1 to keep the temporary directory (its path is printed)
#   SKIFF_VM_TOOLS    executables (with their libraries) copied to /usr/local/bin in the VM
#                     but not run; a skiff-runtime among them is exported as SKIFF_RUNTIME
set -euo pipefail

usage() {
    echo "usage: $0 BINARY..." >&2
    exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac

# --- what the host must have -------------------------------------------------
missing=()
need_cmd() { # command package
    command -v "$1" >/dev/null 2>&1 || missing+=("$2 (for $1)")
}
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd cpio cpio
need_cmd gzip gzip
need_cmd ldd libc-bin
need_cmd timeout coreutils
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1; then
    missing+=("busybox-static (for $busybox)")
elif ldd "$busybox" >/dev/null 2>&1; then
    missing+=("busybox-static ($busybox is dynamically linked)")
fi
kernel=${SKIFF_VM_KERNEL:-}
if [ -z "$kernel" ]; then
    kernel=$("$(dirname "$0")/kernel.sh") || kernel=
fi
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
    missing+=("a kernel: tests/vm/kernel.sh could not fetch linux-image-cloud-amd64")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "$0: missing:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    echo "install with: apt-get install -y qemu-system-x86 busybox-static cpio" >&2
    exit 2
fi
for bin in "$@"; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
        echo "$0: $bin is not an executable file" >&2
        exit 2
    fi
done

timeout_s=${SKIFF_VM_TIMEOUT:-300}
started=$(date +%s.%N)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/skiff-vm.XXXXXX")
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then
        kill "$qemu_pid" 2>/dev/null || true
    fi
    if [ "${SKIFF_VM_KEEP:-0}" = 1 ]; then
        echo "vm: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,tests}

# --- kernel -------------------------------------------------------------------
# Booting the uncompressed vmlinux (qemu enters it through its PVH note) skips
# the in-guest decompression, which costs seconds under TCG. This runs while
# the initramfs is built; any failure just means booting the compressed image.
extract_vmlinux() {
    local format tool offset
    for format in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
        tool=${format%%:*}
        command -v "$tool" >/dev/null 2>&1 || continue
        offset=$(LC_ALL=C grep -obUaP "${format#*:}" "$kernel" 2>/dev/null | head -n 1 | cut -d: -f1) || true
        [ -n "$offset" ] || continue
        tail -c +$((offset + 1)) "$kernel" | "$tool" -dc >"$tmp/vmlinux.part" 2>/dev/null || true
        if [ "$(head -c 4 "$tmp/vmlinux.part" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            mv "$tmp/vmlinux.part" "$tmp/vmlinux"
            return
        fi
    done
    rm -f "$tmp/vmlinux.part"
}
extract_pid=
if [ "${SKIFF_VM_PVH:-1}" = 1 ]; then
    extract_vmlinux &
    extract_pid=$!
fi

# --- busybox (/init installs the applet links) --------------------------------
cp "$busybox" "$root/bin/busybox"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

# --- the test binaries and their libraries -----------------------------------
# Copies `src` to the same path inside the initramfs (following symlinks).
copy_in() {
    local src=$1
    [ -e "$root$src" ] && return 0
    mkdir -p "$root$(dirname "$src")"
    cp -L "$src" "$root$src"
}
names=()
for bin in "$@"; do
    name=$(basename "$bin" | tr -c 'A-Za-z0-9._+\n-' '_')
    # Two binaries with the same name get a numeric suffix.
    while [ -e "$root/tests/$name" ]; do name="$name.${#names[@]}"; done
    # Debug info only slows the VM down: panics still name file and line.
    if [ "${SKIFF_VM_STRIP:-1}" != 1 ] || ! objcopy --strip-debug "$bin" "$root/tests/$name" 2>/dev/null; then
        cp -L "$bin" "$root/tests/$name"
    fi
    names+=("$name")
    if libs=$(ldd "$bin" 2>/dev/null); then
        # Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`
        # or `/lib64/ld-linux-x86-64.so.2 (0x...)` (the dynamic loader).
        while read -r path; do
            copy_in "$path"
        done < <(printf '%s\n' "$libs" |
            awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
    fi
    # libtest binaries run one test at a time so their output stays readable.
    if grep -qa -- '--test-threads' "$bin"; then
        echo "$name --test-threads=1 ${SKIFF_VM_ARGS:-}" >>"$root/tests/list"
    else
        echo "$name" >>"$root/tests/list"
    fi
done

for tool in ${SKIFF_VM_TOOLS:-}; do
    mkdir -p "$root/usr/local/bin"
    cp -L "$tool" "$root/usr/local/bin/$(basename "$tool")"
    if libs=$(ldd "$tool" 2>/dev/null); then
        while read -r path; do
            copy_in "$path"
        done < <(printf '%s\n' "$libs" |
            awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
    fi
done

# --- /init --------------------------------------------------------------------
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
# pivot_root cannot leave the initramfs (rootfs): move everything to a tmpfs
# and switch to it, so that containers in the VM can pivot as on a real host.
if [ ! -e /.switched ]; then
    mkdir -p /newroot
    mount -t tmpfs -o mode=755 tmpfs /newroot
    for d in /*; do [ "$d" = /newroot ] || cp -a "$d" /newroot/; done
    touch /newroot/.switched
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
    exec switch_root /newroot /init
fi
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin HOME=/root TMPDIR=/tmp
[ -x /usr/local/bin/skiff-runtime ] && export SKIFF_RUNTIME=/usr/local/bin/skiff-runtime
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "vm: cannot mount cgroup2"
for c in cpu io memory pids cpuset hugetlb; do
    if grep -qw "$c" /sys/fs/cgroup/cgroup.controllers; then
        echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "vm: cannot enable $c"
    fi
done
printf "\n"
echo "vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "vm: enabled: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
cd /tmp
while read -r name args; do
    echo "vm: running $name $args"
    # shellcheck disable=SC2086 # args are split on purpose
    /tests/$name $args
    printf '\nVM-RESULT %s exit=%s\n' "$name" "$?"
done </tests/list
sync
poweroff -f
EOF
chmod 755 "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$tmp/initramfs.gz"

# --- boot ---------------------------------------------------------------------
boot_kernel=$kernel
if [ -n "$extract_pid" ]; then
    wait "$extract_pid" || true
    [ -f "$tmp/vmlinux" ] && boot_kernel=$tmp/vmlinux
fi
cmdline="console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
cmdline+=${SKIFF_VM_APPEND:+ $SKIFF_VM_APPEND}
log=$tmp/console.log

# run_vm ACCEL [ALIVE]: boots the VM, streaming its console, and sets
# qemu_status. With ALIVE, gives up (status 125) if /init has not spoken
# within ALIVE seconds.
run_vm() {
    local accel=$1 alive=${2:-0} accel_args tail_pid tenths=0
    case "$accel" in
    kvm) accel_args=(-enable-kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg -cpu max) ;;
    *)
        echo "$0: SKIFF_VM_ACCEL must be kvm or tcg, not $accel" >&2
        exit 2
        ;;
    esac
    local how=compressed
    [ "$boot_kernel" = "$kernel" ] || how="as vmlinux"
    echo "vm: booting $kernel ($how, $accel, initramfs $(du -h "$tmp/initramfs.gz" | cut -f1))" >&2
    : >"$log"
    timeout "$timeout_s" qemu-system-x86_64 "${accel_args[@]}" \
        -m 1024 -smp 2 -nographic -no-reboot -nic none \
        -kernel "$boot_kernel" -initrd "$tmp/initramfs.gz" -append "$cmdline" \
        </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    # The live copy drops carriage returns and the firmware's terminal resets.
    tail -n +1 -f --pid="$qemu_pid" "$log" |
        sed -u -e 's/\r$//' -e 's/\x1bc//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' &
    tail_pid=$!
    qemu_status=0
    if [ "$alive" -gt 0 ]; then
        while kill -0 "$qemu_pid" 2>/dev/null && ! grep -q 'vm: kernel' "$log"; do
            if [ "$tenths" -ge $((alive * 10)) ]; then
                kill "$qemu_pid" 2>/dev/null || true
                wait "$qemu_pid" || true
                wait "$tail_pid" || true
                qemu_pid=
                qemu_status=125
                return
            fi
            sleep 0.1
            tenths=$((tenths + 1))
        done
    fi
    wait "$qemu_pid" || qemu_status=$?
    qemu_pid=
    wait "$tail_pid" || true
}

accel=${SKIFF_VM_ACCEL:-}
prepared=$(date +%s.%N)
boot=$prepared
if [ -n "$accel" ]; then
    run_vm "$accel"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "vm: /dev/kvm is not usable; using TCG" >&2
    accel=tcg
    run_vm tcg
elif [ -d /sys/module/kvm_pvm ] && ! grep -qs '^CONFIG_PVM_GUEST=y' "$(dirname "$kernel")/config-$(basename "$kernel" | sed 's/^vmlinuz-//')"; then
    # PVM (KVM without hardware virtualisation, for nested hosts) only runs
    # kernels built as PVM guests; Debian's kernel hangs while booting there.
    echo "vm: /dev/kvm is PVM, which cannot boot this kernel; using TCG" >&2
    accel=tcg
    run_vm tcg
else
    # Try KVM for real: fall back to TCG if /init does not speak in time.
    accel=kvm
    run_vm kvm 20
    if [ "$qemu_status" = 125 ]; then
        echo "vm: KVM guest did not reach /init within 20s; retrying with TCG" >&2
        accel=tcg
        boot=$(date +%s.%N)
        run_vm tcg
    fi
fi
finished=$(date +%s.%N)

# --- verdict ------------------------------------------------------------------
results=$(tr -d '\r' <"$tmp/console.log" | grep -E '^VM-RESULT ' || true)
echo
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
echo "vm: $accel; prepare $(secs "$prepared" "$started")s, vm $(secs "$finished" "$boot")s," \
    "total $(secs "$finished" "$started")s"
if [ "$qemu_status" = 124 ]; then
    echo "vm: FAILED: timed out after ${timeout_s}s" >&2
    exit 1
fi
if [ -z "$results" ]; then
    echo "vm: FAILED: no VM-RESULT lines (qemu exit $qemu_status)" >&2
    exit 1
fi
echo "$results"
failed=0
for name in "${names[@]}"; do
    if ! grep -Fqx "VM-RESULT $name exit=0" <<<"$results"; then
        echo "vm: FAILED: $name" >&2
        failed=1
    fi
done
exit "$failed"
