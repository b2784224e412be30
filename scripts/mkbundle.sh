#!/usr/bin/env bash
# usage: mkbundle.sh RUNTIME DIR [ARG...]
# An OCI bundle in DIR: a rootfs from Debian's static busybox and the config
# that `RUNTIME spec` writes, with terminal off and the given process args.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2p "$0" >&2; exit 2; }
runtime=$1 dir=$2
shift 2
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "mkbundle: $busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
rm -rf "$dir"
root=$dir/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$root/tmp"
install -m 0755 "$busybox" "$root/bin/busybox"
"$busybox" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$root/etc/group"
(cd "$dir" && "$runtime" spec)
python3 - "$dir/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:] or ["/bin/true"]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = args
json.dump(spec, open(path, "w"), indent=1)
PY
