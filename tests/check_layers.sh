#!/usr/bin/env bash
# tests/check_layers.sh OBJDIR — the layering rules, checked by a machine on
# every `make test`: the undefined symbols (`nm -u`) of the objects under
# OBJDIR/consensus and OBJDIR/contracts must name no socket, clock, random,
# file, thread, libevent, RocksDB or TLS function, and those under OBJDIR/lib
# no libevent, RocksDB or TLS function. Prints what it checked and each
# violation as "object: symbol (rule)"; exits 1 on any violation, 2 on misuse.
set -uo pipefail

objdir="${1:?usage: tests/check_layers.sh OBJDIR}"
[ -d "$objdir" ] || {
    echo "check_layers: no such directory: $objdir" >&2
    exit 2
}

# Each rule is "name|extended regex over a whole symbol".
net='socket|socketpair|connect|bind|accept4?|listen|send|sendto|sendmsg|sendmmsg|sendfile|recv.*|getaddrinfo|gethostbyname|poll|epoll_.*|select'
clock='time|clock|clock_gettime|gettimeofday|timespec_get|ftime|localtime(_r)?|gmtime(_r)?|sleep|usleep|nanosleep'
rnd='rand|rand_r|random|srand|srandom|drand48|lrand48|getrandom|getentropy|arc4random.*|RAND_.*'
files='__open_2|__open64_2|__read_chk|__pread_chk|__fread_chk|fopen|fopen64|freopen|fdopen|open|open64|openat|creat|read|pread|pread64|write|pwrite|pwrite64|fread|fwrite|fsync|fdatasync|close|unlink|rename|opendir|readdir|mmap|stat|fstat|lstat'
thr='pthread_.*|thrd_.*|mtx_.*|cnd_.*'
ev='event_.*|evhttp_.*|bufferevent_.*|evbuffer_.*|evconnlistener_.*|evutil_.*'
db='rocksdb_.*'
tls='SSL_.*|TLS_.*|DTLS_.*'

pure_rules=("sockets|$net" "clocks|$clock" "randomness|$rnd" "file I/O|$files" "threads|$thr"
    "libevent|$ev" "RocksDB|$db" "TLS|$tls")
lib_rules=("libevent|$ev" "RocksDB|$db" "TLS|$tls")

violations=0
checked=0

# check_dir DIR RULE... : every object under DIR against every rule.
check_dir() {
    local dir="$1"
    shift
    local rule_names=()
    for rule in "$@"; do rule_names+=("${rule%%|*}"); done
    if [ ! -d "$dir" ]; then
        echo "check_layers: $dir: no objects (nothing to check)"
        return
    fi
    local objs=()
    while IFS= read -r -d '' o; do objs+=("$o"); done < <(find "$dir" -name '*.o' -print0 | sort -z)
    echo "check_layers: $dir: ${#objs[@]} objects, forbidden: $(IFS=,; echo "${rule_names[*]}")"
    local o sym rule
    for o in "${objs[@]}"; do
        checked=$((checked + 1))
        local syms
        if ! syms="$(nm -u "$o" 2>&1)"; then
            echo "check_layers: nm failed on $o: $syms" >&2
            violations=$((violations + 1))
            continue
        fi
        while read -r _ sym; do
            [ -n "${sym:-}" ] || continue
            sym="${sym%%@*}"
            for rule in "$@"; do
                if [[ "$sym" =~ ^(${rule#*|})$ ]]; then
                    echo "VIOLATION $o: $sym (${rule%%|*})"
                    violations=$((violations + 1))
                fi
            done
        done <<<"$syms"
    done
}

check_dir "$objdir/consensus" "${pure_rules[@]}"
check_dir "$objdir/contracts" "${pure_rules[@]}"
check_dir "$objdir/lib" "${lib_rules[@]}"

if ((violations)); then
    echo "check_layers: $violations violation(s) in $checked objects"
    exit 1
fi
echo "check_layers: ok ($checked objects)"
