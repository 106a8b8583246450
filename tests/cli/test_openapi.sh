#!/usr/bin/env bash
# tests/cli/test_openapi.sh BUILD — keeps docs/openapi.yaml honest: it must
# have the shape of an OpenAPI 3.0 document (every $ref resolves, every path
# parameter is declared), every route prefix that node/*.c registers with
# nd_http_add_route must start a path in it, and every path in it must start
# with a registered prefix. Each check is also run on a broken copy of the
# document to show that it can fail.
#
# Needs no build output (BUILD is taken for the runner's sake). The
# line-by-line structural check always runs; the full parse runs when python3
# has the yaml module (Debian's python3-yaml, in `scripts/deps.sh test`).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
: "${1:?usage: test_openapi.sh BUILD_DIR}"
spec=docs/openapi.yaml

# The registered prefixes: the string argument of every nd_http_add_route call.
registered_routes() {
    grep -ohE 'nd_http_add_route\([^,()]+, *"[^"]+"' node/*.c | sed -E 's/.*"([^"]+)"$/\1/' |
        sort -u
}

# The path keys of a document: the two-space-indented keys under "paths:".
spec_paths() {
    awk '/^[^ #]/ { in_paths = ($0 ~ /^paths:/); next }
         in_paths && /^  \/[^ ]*:[ ]*$/ { sub(/^  /, ""); sub(/:[ ]*$/, ""); print }' "$1"
}

# Prints each registered prefix that starts no path of the document.
missing_routes() {
    local paths prefix p found
    paths="$(spec_paths "$1")"
    while read -r prefix; do
        found=0
        while read -r p; do
            [[ -n "$p" && "$p" == "$prefix"* ]] && found=1 && break
        done <<<"$paths"
        ((found)) || echo "$prefix"
    done < <(registered_routes)
}

# Prints each path of the document that no registered prefix starts.
stale_paths() {
    local prefixes p prefix found
    prefixes="$(registered_routes)"
    while read -r p; do
        [ -n "$p" ] || continue
        found=0
        while read -r prefix; do
            [[ "$p" == "$prefix"* ]] && found=1 && break
        done <<<"$prefixes"
        ((found)) || echo "$p"
    done < <(spec_paths "$1")
}

# Line by line, without a YAML library: no tabs, indentation in steps of two,
# the top-level keys of an OpenAPI 3.0 document, and every local $ref naming
# a component that is defined. Prints the problems; non-zero if any.
check_structure() {
    awk '
        /\t/ { print "line " NR ": tab"; bad = 1 }
        /^ *[^ ]/ { match($0, /^ */); if (RLENGTH % 2) { print "line " NR ": odd indent"; bad = 1 } }
        /^openapi: *"?3\.0\./ { top["openapi"] = 1 }
        /^(info|paths|components):/ { k = $1; sub(/:.*/, "", k); top[k] = 1 }
        /^[^ ]/ { section = "" }
        /^  (schemas|parameters|responses|headers|securitySchemes):/ { section = $1; sub(/:.*/, "", section) }
        section != "" && /^    [A-Za-z0-9_.-]+:/ { name = $1; sub(/:.*/, "", name); have[section "/" name] = 1 }
        {
            line = $0
            while (match(line, /#\/components\/[A-Za-z]+\/[A-Za-z0-9_.-]+/)) {
                refs[substr(line, RSTART + 13, RLENGTH - 13)] = NR
                line = substr(line, RSTART + RLENGTH)
            }
        }
        END {
            n = split("openapi info paths components", keys, " ")
            for (i = 1; i <= n; i++)
                if (!(keys[i] in top)) { print "no top-level " keys[i]; bad = 1 }
            for (r in refs)
                if (!(r in have)) { print "line " refs[r] ": $ref " r " does not resolve"; bad = 1 }
            exit bad
        }' "$1"
}

have_pyyaml=0
python3 -c 'import yaml' 2>/dev/null && have_pyyaml=1

# Parses a document with PyYAML and checks its OpenAPI 3.0 shape: $refs
# resolve, each operation has responses with status codes, and the path
# parameters declared are exactly those of the path template. Prints the
# problems; non-zero if any.
check_yaml() {
    python3 - "$1" <<'PY'
import re, sys, yaml

problems = []
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
except yaml.YAMLError as e:
    print("not YAML: %s" % e)
    sys.exit(1)
if not isinstance(doc, dict):
    print("not a mapping")
    sys.exit(1)
if not str(doc.get("openapi", "")).startswith("3.0."):
    problems.append("openapi is not 3.0.x")
for key in ("info", "paths", "components"):
    if not isinstance(doc.get(key), dict):
        problems.append("no %s mapping" % key)


def resolve(ref):
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk(node, where):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (not ref.startswith("#/") or resolve(ref) is None):
            problems.append("%s: $ref %s does not resolve" % (where, ref))
        for k, v in node.items():
            walk(v, "%s/%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, "%s/%d" % (where, i))


walk(doc, "#")


def param(p):
    if isinstance(p, dict) and isinstance(p.get("$ref"), str):
        return resolve(p["$ref"])
    return p


methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
for path, item in (doc.get("paths") or {}).items():
    if not str(path).startswith("/") or not isinstance(item, dict):
        problems.append("%s: not a path item" % path)
        continue
    templated = set(re.findall(r"\{([^}]+)\}", path))
    shared = [param(p) for p in item.get("parameters", [])]
    ops = [m for m in item if m in methods]
    if not ops:
        problems.append("%s: no operation" % path)
    for m in ops:
        op = item[m]
        declared = set()
        for p in shared + [param(p) for p in op.get("parameters", [])]:
            if not isinstance(p, dict) or "name" not in p or "in" not in p:
                problems.append("%s %s: malformed parameter" % (m, path))
                continue
            if p["in"] == "path":
                declared.add(p["name"])
                if p.get("required") is not True:
                    problems.append("%s %s: path parameter %s not required" % (m, path, p["name"]))
        if declared != templated:
            problems.append("%s %s: path parameters %s, template has %s"
                            % (m, path, sorted(declared), sorted(templated)))
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            problems.append("%s %s: no responses" % (m, path))
            continue
        for code in responses:
            if not re.fullmatch(r"[1-5][0-9][0-9]|default", str(code)):
                problems.append("%s %s: response code %s" % (m, path, code))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
}

# (a) The document has the shape of OpenAPI 3.0 and parses.
expect_rc 0 "docs/openapi.yaml passes the structural check" check_structure "$spec"
[ -n "$out" ] && echo "$out"
if ((have_pyyaml)); then
    expect_rc 0 "docs/openapi.yaml parses as OpenAPI 3.0" check_yaml "$spec"
    [ -n "$out" ] && echo "$out"
else
    echo "note: python3 has no yaml module (python3-yaml): the parse checks are skipped"
fi

# (b) Every registered route is documented, and nothing else is.
routes="$(registered_routes)"
route_count="$(printf '%s\n' "$routes" | grep -c .)"
expect_match '^(1[5-9]|[2-9][0-9])$' "$route_count" "node/*.c registers at least 15 routes"
expect_rc 0 "missing_routes runs" missing_routes "$spec"
expect_eq "" "$out" "registered routes missing from docs/openapi.yaml"
expect_rc 0 "stale_paths runs" stale_paths "$spec"
expect_eq "" "$out" "paths in docs/openapi.yaml that no route serves"

# The checks can fail. A copy without one route's paths reports that route.
victim="$(printf '%s\n' "$routes" | grep -m1 '^/v1/prov/members/')"
[ -n "$victim" ] || victim="$(printf '%s\n' "$routes" | tail -n 1)"
awk -v victim="$victim" '
    /^  \/[^ ]*:[ ]*$/ { path = $1; sub(/:$/, "", path); skip = index(path, victim) == 1 }
    /^  [^ \/]/ || /^[^ ]/ { skip = 0 }
    !skip' "$spec" >"$work/missing.yaml"
expect_rc 0 "missing_routes on a copy without $victim" missing_routes "$work/missing.yaml"
expect_eq "$victim" "$out" "the copy without $victim reports it, and only it"

# A documented path that no route serves is reported.
sed 's|^paths:$|paths:\n  /v1/nowhere:\n    get:\n      responses:\n        "200": {description: none}|' \
    "$spec" >"$work/stale.yaml"
expect_rc 0 "stale_paths on a copy with /v1/nowhere" stale_paths "$work/stale.yaml"
expect_eq "/v1/nowhere" "$out" "the copy with /v1/nowhere reports it"

# A copy with a tab, or with a dangling $ref, fails the structural check.
sed '0,/^info:$/s//info:\n\tversion: x/' "$spec" >"$work/tab.yaml"
expect_rc 1 "a copy with a tab fails the structural check" check_structure "$work/tab.yaml"
sed "0,/'#\/components\/schemas\/Hash'/s||'#/components/schemas/NoSuchSchema'|" "$spec" \
    >"$work/dangling.yaml"
expect_rc 1 "a copy with a dangling \$ref fails the structural check" check_structure \
    "$work/dangling.yaml"
expect_match "NoSuchSchema" "$out" "the structural check names the dangling \$ref"

# A copy that is not YAML, has a dangling $ref or an undeclared path
# parameter is refused by the parse check.
if ((have_pyyaml)); then
    expect_rc 0 "the copy without $victim still parses" check_yaml "$work/missing.yaml"
    sed 's|^info:$|info: [unclosed|' "$spec" >"$work/broken.yaml"
    expect_rc 1 "a copy that is not YAML is refused" check_yaml "$work/broken.yaml"
    expect_match "not YAML" "$out" "the parse failure says so"
    expect_rc 1 "a copy with a dangling \$ref is refused" check_yaml "$work/dangling.yaml"
    expect_match "NoSuchSchema" "$out" "the parse check names the dangling \$ref"
    sed 's|^  /v1/prov/members/{key}:$|  /v1/prov/members/{key}/{extra}:|' "$spec" \
        >"$work/param.yaml"
    expect_rc 1 "an undeclared path parameter is refused" check_yaml "$work/param.yaml"
    expect_match "extra" "$out" "the undeclared path parameter is named"
fi

finish
