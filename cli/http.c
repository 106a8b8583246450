/* cli/http.c — a small blocking HTTP/1.1 client for the node's API, and
 * transaction submission on top of it.
 *
 * Layer: cli/ (top). One request per connection ("Connection: close"), plain
 * TCP (the API listens on loopback), an overall deadline, and a bound on the
 * body it will accept. Never follows redirects, never retries, never holds a
 * connection open past the call, never trusts a length the server sends. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <jansson.h>

#include "cli.h"

#define HTTP_HOST_MAX 255
#define HTTP_HEAD_MAX (64 * 1024) /* status line and headers */

const char *cli_node_url(const char *url) {
    if (url && *url)
        return url;
    const char *env = getenv("HALLMARK_NODE");
    return env && *env ? env : CLI_NODE_URL_DEFAULT;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits "http://host:port[/]" into host (brackets removed) and port text. */
static hm_err parse_base_url(const char *url, char host[HTTP_HOST_MAX + 1], char port[8]) {
    const char *prefix = "http://";
    if (strncmp(url, prefix, strlen(prefix)) != 0) {
        cli_error("node URL '%s' must start with http://", url);
        return HM_ERR_ARG;
    }
    const char *p = url + strlen(prefix);
    const char *host_start, *host_end;
    if (*p == '[') {
        host_start = p + 1;
        host_end = strchr(host_start, ']');
        if (!host_end) {
            cli_error("node URL '%s': missing ']'", url);
            return HM_ERR_ARG;
        }
        p = host_end + 1;
    } else {
        host_start = p;
        while (*p && *p != ':' && *p != '/')
            p++;
        host_end = p;
    }
    size_t host_len = (size_t)(host_end - host_start);
    if (host_len == 0 || host_len > HTTP_HOST_MAX) {
        cli_error("node URL '%s': bad host", url);
        return HM_ERR_ARG;
    }
    memcpy(host, host_start, host_len);
    host[host_len] = 0;
    const char *port_text = "80";
    size_t port_len = 2;
    if (*p == ':') {
        port_text = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        port_len = (size_t)(p - port_text);
    }
    uint64_t port_value = 0;
    char port_copy[8] = {0};
    if (port_len == 0 || port_len > 5) {
        cli_error("node URL '%s': bad port", url);
        return HM_ERR_ARG;
    }
    memcpy(port_copy, port_text, port_len);
    if (!cli_parse_u64(port_copy, 65535, &port_value) || port_value == 0) {
        cli_error("node URL '%s': bad port", url);
        return HM_ERR_ARG;
    }
    if (*p == '/')
        p++;
    if (*p) {
        cli_error("node URL '%s': only http://host:port is accepted", url);
        return HM_ERR_ARG;
    }
    memcpy(port, port_copy, port_len + 1);
    return HM_OK;
}

/* Waits until fd is ready for events or the deadline passes. */
static hm_err wait_fd(int fd, short events, int64_t deadline_ms, const char *what) {
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0) {
            cli_error("node did not answer in time (%s)", what);
            return HM_ERR_IO;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, (int)left);
        if (rc > 0)
            return HM_OK;
        if (rc < 0 && errno != EINTR) {
            cli_error("poll failed: %s", strerror(errno));
            return HM_ERR_IO;
        }
    }
}

static hm_err connect_to(const char *host, const char *port, int64_t deadline_ms, int *fd_out) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, port, &hints, &list);
    if (gai != 0) {
        cli_error("cannot resolve %s: %s", host, gai_strerror(gai));
        return HM_ERR_IO;
    }
    int last_errno = 0;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        /* Non-blocking so that the connect honours the deadline. */
        int flags = fcntl(fd, F_GETFL, 0);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            last_errno = errno;
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            *fd_out = fd;
            freeaddrinfo(list);
            return HM_OK;
        }
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline_ms, "connect") == HM_OK) {
            int so_error = 0;
            socklen_t so_len = sizeof so_error;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) == 0 && so_error == 0) {
                *fd_out = fd;
                freeaddrinfo(list);
                return HM_OK;
            }
            last_errno = so_error;
        } else {
            last_errno = errno == EINPROGRESS ? ETIMEDOUT : errno;
        }
        close(fd);
    }
    freeaddrinfo(list);
    cli_error("cannot connect to %s port %s: %s", host, port,
              last_errno ? strerror(last_errno) : "no address");
    return HM_ERR_IO;
}

static hm_err send_all(int fd, const uint8_t *data, size_t len, int64_t deadline_ms) {
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            hm_err err = wait_fd(fd, POLLOUT, deadline_ms, "sending");
            if (err != HM_OK)
                return err;
            continue;
        }
        cli_error("sending to the node failed: %s", n < 0 ? strerror(errno) : "closed");
        return HM_ERR_IO;
    }
    return HM_OK;
}

/* Reads until the peer closes, the deadline passes, or more than cap bytes
 * arrive. */
static hm_err recv_all(int fd, size_t cap, int64_t deadline_ms, char **out, size_t *out_len) {
    size_t alloc = 8192, len = 0;
    char *buf = malloc(alloc + 1);
    if (!buf) {
        cli_error("out of memory");
        return HM_ERR_NOMEM;
    }
    for (;;) {
        if (len == alloc) {
            if (alloc > cap) {
                free(buf);
                cli_error("the node's answer is larger than %zu bytes", cap);
                return HM_ERR_TOO_LONG;
            }
            size_t want = alloc * 2;
            char *grown = realloc(buf, want + 1);
            if (!grown) {
                free(buf);
                cli_error("out of memory");
                return HM_ERR_NOMEM;
            }
            buf = grown;
            alloc = want;
        }
        ssize_t n = recv(fd, buf + len, alloc - len, 0);
        if (n > 0) {
            len += (size_t)n;
            if (len > cap) {
                free(buf);
                cli_error("the node's answer is larger than %zu bytes", cap);
                return HM_ERR_TOO_LONG;
            }
            continue;
        }
        if (n == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            hm_err err = wait_fd(fd, POLLIN, deadline_ms, "receiving");
            if (err != HM_OK) {
                free(buf);
                return err;
            }
            continue;
        }
        cli_error("receiving from the node failed: %s", strerror(errno));
        free(buf);
        return HM_ERR_IO;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return HM_OK;
}

/* Finds header name (case-insensitive) in the header block; copies its value
 * (trimmed) into value. */
static bool find_header(const char *head, size_t head_len, const char *name, char *value,
                        size_t value_cap) {
    size_t name_len = strlen(name);
    const char *p = head;
    const char *end = head + head_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > name_len && strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':') {
            const char *v = p + name_len + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *v_end = eol;
            while (v_end > v && (v_end[-1] == '\r' || v_end[-1] == ' ' || v_end[-1] == '\t'))
                v_end--;
            size_t v_len = (size_t)(v_end - v);
            if (v_len >= value_cap)
                return false;
            memcpy(value, v, v_len);
            value[v_len] = 0;
            return true;
        }
        p = eol + 1;
    }
    return false;
}

/* Decodes a chunked body in place; false if malformed. */
static bool dechunk(char *body, size_t body_len, size_t *out_len) {
    size_t in = 0, out = 0;
    for (;;) {
        size_t size = 0;
        int digits = 0;
        while (in < body_len) {
            char c = body[in];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            if (++digits > 8)
                return false;
            size = size * 16 + (size_t)d;
            in++;
        }
        if (digits == 0)
            return false;
        /* Skip chunk extensions up to the end of the line. */
        while (in < body_len && body[in] != '\n')
            in++;
        if (in >= body_len)
            return false;
        in++;
        if (size == 0)
            break;
        if (size > body_len - in)
            return false;
        memmove(body + out, body + in, size);
        out += size;
        in += size;
        if (in < body_len && body[in] == '\r')
            in++;
        if (in >= body_len || body[in] != '\n')
            return false;
        in++;
    }
    body[out] = 0;
    *out_len = out;
    return true;
}

hm_err cli_http_request(const char *base_url, const char *method, const char *path,
                        const char *content_type, const uint8_t *body, size_t body_len,
                        const char *extra_headers, int *status, char **response,
                        size_t *response_len, size_t response_max, int timeout_ms) {
    *response = NULL;
    *response_len = 0;
    *status = 0;
    if (!method || !path || path[0] != '/' || timeout_ms <= 0 || (body_len && !body) ||
        strpbrk(path, " \r\n") || strpbrk(method, " \r\n")) {
        cli_error("bad HTTP request arguments");
        return HM_ERR_ARG;
    }
    char host[HTTP_HOST_MAX + 1], port[8];
    hm_err err = parse_base_url(base_url, host, port);
    if (err != HM_OK)
        return err;
    int64_t deadline_ms = now_ms() + timeout_ms;

    char head[2048];
    bool v6 = strchr(host, ':') != NULL;
    int head_len = snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n"
                            "User-Agent: hallmark-cli\r\nAccept: application/json\r\n",
                            method, path, v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (head_len < 0 || (size_t)head_len >= sizeof head) {
        cli_error("HTTP request line too long");
        return HM_ERR_ARG;
    }
    if (content_type || body_len) {
        int more = snprintf(head + head_len, sizeof head - (size_t)head_len,
                            "Content-Type: %s\r\nContent-Length: %zu\r\n",
                            content_type ? content_type : "application/octet-stream", body_len);
        if (more < 0 || (size_t)more >= sizeof head - (size_t)head_len) {
            cli_error("HTTP request head too long");
            return HM_ERR_ARG;
        }
        head_len += more;
    }

    int fd = -1;
    err = connect_to(host, port, deadline_ms, &fd);
    if (err != HM_OK)
        return err;
    char *raw = NULL;
    size_t raw_len = 0;
    err = send_all(fd, (const uint8_t *)head, (size_t)head_len, deadline_ms);
    if (err == HM_OK && extra_headers)
        err = send_all(fd, (const uint8_t *)extra_headers, strlen(extra_headers), deadline_ms);
    if (err == HM_OK)
        err = send_all(fd, (const uint8_t *)"\r\n", 2, deadline_ms);
    if (err == HM_OK && body_len)
        err = send_all(fd, body, body_len, deadline_ms);
    if (err == HM_OK)
        err = recv_all(fd, response_max + HTTP_HEAD_MAX, deadline_ms, &raw, &raw_len);
    close(fd);
    if (err != HM_OK)
        return err;

    /* Status line: "HTTP/1.x NNN reason". */
    int code = 0;
    if (raw_len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ' ||
        sscanf(raw + 9, "%3d", &code) != 1 || code < 100 || code > 599) {
        cli_error("the node's answer is not HTTP");
        free(raw);
        return HM_ERR_BAD_VALUE;
    }
    char *head_end = strstr(raw, "\r\n\r\n");
    size_t sep_len = 4;
    if (!head_end) {
        head_end = strstr(raw, "\n\n");
        sep_len = 2;
    }
    if (!head_end) {
        cli_error("the node's answer has no end of headers");
        free(raw);
        return HM_ERR_BAD_VALUE;
    }
    size_t head_size = (size_t)(head_end - raw);
    char *payload = head_end + sep_len;
    size_t payload_len = raw_len - head_size - sep_len;
    char value[64];
    if (find_header(raw, head_size, "Transfer-Encoding", value, sizeof value) &&
        strcasecmp(value, "chunked") == 0) {
        if (!dechunk(payload, payload_len, &payload_len)) {
            cli_error("the node's chunked answer is malformed");
            free(raw);
            return HM_ERR_BAD_VALUE;
        }
    } else if (find_header(raw, head_size, "Content-Length", value, sizeof value)) {
        uint64_t declared = 0;
        if (!cli_parse_u64(value, SIZE_MAX, &declared) || declared > payload_len) {
            cli_error("the node's answer is shorter than its Content-Length");
            free(raw);
            return HM_ERR_BAD_VALUE;
        }
        payload_len = (size_t)declared;
    }
    if (payload_len > response_max) {
        cli_error("the node's answer is larger than %zu bytes", response_max);
        free(raw);
        return HM_ERR_TOO_LONG;
    }
    char *result = malloc(payload_len + 1);
    if (!result) {
        cli_error("out of memory");
        free(raw);
        return HM_ERR_NOMEM;
    }
    memcpy(result, payload, payload_len);
    result[payload_len] = 0;
    free(raw);
    *status = code;
    *response = result;
    *response_len = payload_len;
    return HM_OK;
}

/* Prints a JSON answer indented when it parses, else as it came. */
static void print_answer(FILE *out, const char *text, size_t text_len) {
    json_t *doc = json_loadb(text, text_len, 0, NULL);
    if (doc) {
        char *pretty = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (pretty) {
            fprintf(out, "%s\n", pretty);
            free(pretty);
            return;
        }
    }
    fwrite(text, 1, text_len, out);
    if (text_len && text[text_len - 1] != '\n')
        fputc('\n', out);
}

int cli_submit_tx(const char *node_url, const uint8_t *tx, size_t tx_len) {
    uint64_t timeout_ms = CLI_HTTP_TIMEOUT_MS;
    const char *timeout_env = getenv("HALLMARK_HTTP_TIMEOUT_MS");
    if (timeout_env && *timeout_env &&
        (!cli_parse_u64(timeout_env, 600000, &timeout_ms) || timeout_ms == 0)) {
        cli_error("HALLMARK_HTTP_TIMEOUT_MS must be 1 to 600000 (milliseconds)");
        return CLI_EXIT_USAGE;
    }
    int status = 0;
    char *answer = NULL;
    size_t answer_len = 0;
    hm_err err =
        cli_http_request(node_url, "POST", "/v1/txs", "application/octet-stream", tx, tx_len, NULL,
                         &status, &answer, &answer_len, CLI_HTTP_RESPONSE_MAX, (int)timeout_ms);
    if (err != HM_OK) {
        cli_error("could not submit the transaction to %s", node_url);
        return err == HM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_NODE;
    }
    int exit_code;
    if (status >= 200 && status < 300) {
        print_answer(stdout, answer, answer_len);
        exit_code = CLI_EXIT_OK;
    } else if (status >= 400 && status < 500) {
        cli_error("the node refused the transaction (HTTP %d):", status);
        print_answer(stderr, answer, answer_len);
        exit_code = CLI_EXIT_FAILED;
    } else {
        cli_error("the node failed (HTTP %d):", status);
        print_answer(stderr, answer, answer_len);
        exit_code = CLI_EXIT_NODE;
    }
    free(answer);
    return exit_code;
}
