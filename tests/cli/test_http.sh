#!/usr/bin/env bash
# tests/cli/test_http.sh BUILD — the CLI's HTTP client (cli/http.c) through
# `hallmark submit`, against a scripted server compiled here: what the request
# looks like, 2xx/4xx/5xx answers and their exit codes, chunked answers,
# malformed and short answers, a server that never answers (deadline), and a
# port nobody listens on.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
hm="${1:?usage: test_http.sh BUILD_DIR}/hallmark"
cc="${CC:-cc}"

# The server answers according to the first byte of the request body.
cat >"$work/server.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(int fd, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void serve(int fd) {
    char req[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof req - 1) {
        ssize_t n = read(fd, req + len, sizeof req - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = 0;
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t head_len = (size_t)(end - req) + 4;
    size_t body_len = 0;
    char *cl = strcasestr(req, "\r\nContent-Length:");
    if (cl)
        body_len = strtoul(cl + 17, NULL, 10);
    while (len < head_len + body_len && len < sizeof req - 1) {
        ssize_t n = read(fd, req + len, sizeof req - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    char method[16] = "", path[256] = "", ctype[128] = "";
    sscanf(req, "%15s %255s", method, path);
    char *ct = strcasestr(req, "\r\nContent-Type:");
    if (ct)
        sscanf(ct + 15, " %127[^\r\n]", ctype);
    char kind = body_len ? req[head_len] : '?';
    char json[1024], out[2048];
    switch (kind) {
    case 'A':
        snprintf(json, sizeof json,
                 "{\"tx\":\"00ff\",\"method\":\"%s\",\"path\":\"%s\",\"content_type\":\"%s\","
                 "\"len\":%zu}", method, path, ctype, body_len);
        snprintf(out, sizeof out,
                 "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s", strlen(json), json);
        say(fd, out);
        break;
    case 'B':
        say(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 27\r\n\r\n"
                "{\"error\": \"bad_signature\"}\n");
        break;
    case 'C':
        say(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 21\r\n\r\n"
                "{\"error\":\"internal\"}\n");
        break;
    case 'D':
        say(fd, "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\n{\"tx\"\r\n6;ext=1\r\n:\"ok\"}\r\n0\r\n\r\n");
        break;
    case 'E':
        say(fd, "garbage\r\n\r\n");
        break;
    case 'F':
        sleep(5); /* never answers in time */
        break;
    case 'G':
        say(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n{\"tx\"");
        break;
    default:
        say(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    signal(SIGCHLD, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &alen) != 0)
        return 1;
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 1;
    fprintf(f, "%d\n", ntohs(addr.sin_port));
    fclose(f);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        if (fork() == 0) {
            close(ls);
            serve(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}
C
if ! "$cc" -std=c11 -D_GNU_SOURCE -o "$work/server" "$work/server.c"; then
    echo "FAIL: cannot compile the test server"
    exit 1
fi
"$work/server" "$work/port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
    [ -s "$work/port" ] && break
    sleep 0.1
done
port="$(cat "$work/port" 2>/dev/null)"
[ -n "$port" ] || {
    echo "FAIL: the test server did not start"
    exit 1
}
node="http://127.0.0.1:$port"

for k in A B C D E F G; do printf '%s-transaction-bytes' "$k" >"$work/tx$k"; done

expect_rc 0 "202 accepted" "$hm" submit --tx "$work/txA" --node "$node"
expect_match '"tx": "00ff"' "$out" "prints the node's answer"
expect_match '"method": "POST"' "$out" "request method"
expect_match '"path": "/v1/txs"' "$out" "request path"
expect_match '"content_type": "application/octet-stream"' "$out" "request content type"
expect_match '"len": 19' "$out" "request body length"
HALLMARK_NODE="$node" expect_rc 0 "node from HALLMARK_NODE" "$hm" submit --tx "$work/txA"
expect_rc 0 "tx from stdin" sh -c "\"$hm\" submit --tx - --node \"$node\" <\"$work/txA\""
expect_rc 1 "400 refused" "$hm" submit --tx "$work/txB" --node "$node"
expect_match 'refused' "$err" "refusal is reported"
expect_match 'bad_signature' "$err" "the node's reason is shown"
expect_rc 4 "500 node failure" "$hm" submit --tx "$work/txC" --node "$node"
expect_rc 0 "chunked answer" "$hm" submit --tx "$work/txD" --node "$node"
expect_match '"tx": "ok"' "$out" "chunked body decoded"
expect_rc 4 "not HTTP" "$hm" submit --tx "$work/txE" --node "$node"
HALLMARK_HTTP_TIMEOUT_MS=300 expect_rc 4 "no answer in time" "$hm" submit --tx "$work/txF" \
    --node "$node"
expect_match 'in time' "$err" "timeout is reported"
expect_rc 4 "answer shorter than Content-Length" "$hm" submit --tx "$work/txG" --node "$node"
expect_rc 4 "nobody listening" "$hm" submit --tx "$work/txA" --node "http://127.0.0.1:1"
expect_match 'cannot connect' "$err" "connection failure is reported"
expect_rc 2 "bad URL" "$hm" submit --tx "$work/txA" --node "ftp://127.0.0.1:1"
expect_rc 2 "bad port" "$hm" submit --tx "$work/txA" --node "http://127.0.0.1:99999"
expect_rc 3 "missing tx file" "$hm" submit --tx "$work/none" --node "$node"

finish
