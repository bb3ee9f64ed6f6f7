/*
 * c_client: a minimal epoll HTTP/1.1 load client for the probe benchmarks.
 *
 * Reads "ADDRESS PORT PATH" lines (loopback addresses only) and issues GETs round-robin
 * over them, `-c` at a time, until `-n` requests are done or `-d` seconds have passed.
 *
 *   close mode (default): a new TCP connection per GET ("Connection: close"), read the
 *     response to EOF, close. This is the baseline a probe engine is compared with.
 *   keep-alive mode (-k): persistent connections; a response ends at its Content-Length
 *     or at the last chunk. Used to drive an exporter's /probe endpoint cheaply.
 *     With -m STRING, a response counts as ok only if its body contains STRING.
 *
 *   gcc -O2 -o c_client c_client.c
 *   c_client -f targets.txt [-c 64] [-n 100000] [-d 10] [-k] [-m "probe_success 1"]
 *
 * Prints one JSON object: requests, ok, errors, wall_s, cpu_s (this process only).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 1000000
#define MAX_CONC 4096
#define RESP_CAP 65536

typedef struct {
    struct sockaddr_in sa;
    char req[512];
    int req_len;
} target_t;

typedef struct {
    int fd;
    int target;
    int sent;
    int used;
    char *buf;
} conn_t;

static target_t *targets;
static int ntargets, next_target;
static long started, done, ok, errors;
static long max_requests = 100000;
static int keepalive;
static const char *match;
static conn_t conns[MAX_CONC];
static int ep;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int open_conn(conn_t *c) {
    target_t *t = &targets[c->target];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&t->sa, sizeof(t->sa)) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* Start the next request on c; returns 0 when there is nothing left to start. */
static int start(conn_t *c) {
    while (started < max_requests) {
        started++;
        c->target = next_target;
        next_target = (next_target + 1) % ntargets;
        c->sent = 0;
        c->used = 0;
        if (c->fd >= 0) {
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 1;
        }
        if (open_conn(c) == 0) return 1;
        errors++;
        done++;
    }
    return 0;
}

static void finish(conn_t *c, int success, int reuse) {
    done++;
    if (success)
        ok++;
    else
        errors++;
    if (!reuse && c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

/* In keep-alive mode: is the response in c->buf complete? */
static int response_complete(conn_t *c) {
    c->buf[c->used] = 0;
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return 0;
    char *body = end + 4;
    long have = c->used - (body - c->buf);
    char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (cl && cl < end) return have >= atol(cl + 17);
    if (strcasestr(c->buf, "\r\nTransfer-Encoding: chunked")) return strstr(body, "\r\n0\r\n\r\n") != NULL || strncmp(body, "0\r\n\r\n", 5) == 0;
    return 0;
}

static int shown; /* failed responses printed to stderr so far */

/* Join a chunked body in place (so a match cannot be split by a chunk boundary). */
static void dechunk(conn_t *c) {
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end || !strcasestr(c->buf, "\r\nTransfer-Encoding: chunked")) return;
    char *in = end + 4, *out = in, *limit = c->buf + c->used;
    while (in < limit) {
        char *stop;
        long size = strtol(in, &stop, 16);
        char *data = strstr(stop, "\r\n");
        if (size <= 0 || !data || data + 2 + size > limit) break;
        memmove(out, data + 2, (size_t)size);
        out += size;
        in = data + 2 + size + 2;
    }
    *out = 0;
    c->used = (int)(out - c->buf);
}

static int response_ok(conn_t *c) {
    c->buf[c->used] = 0;
    int ok = strncmp(c->buf, "HTTP/1.1 200", 12) == 0 || strncmp(c->buf, "HTTP/1.0 200", 12) == 0;
    if (ok && match) {
        dechunk(c);
        ok = strstr(c->buf, match) != NULL;
    }
    if (!ok && shown < 3) {
        shown++;
        fprintf(stderr, "c_client: failed response for %s\n%.3000s\n--\n",
                targets[c->target].req, c->buf);
    }
    return ok;
}

static void on_event(conn_t *c, unsigned events) {
    target_t *t = &targets[c->target];
    if (c->sent < t->req_len) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        ssize_t w = write(c->fd, t->req + c->sent, (size_t)(t->req_len - c->sent));
        if (w < 0) {
            if (errno == EAGAIN) return;
            finish(c, 0, 0);
            start(c);
            return;
        }
        c->sent += (int)w;
        if (c->sent < t->req_len) return;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    for (;;) {
        if (c->used >= RESP_CAP - 1) c->used = RESP_CAP / 2; /* keep the tail only */
        ssize_t r = read(c->fd, c->buf + c->used, (size_t)(RESP_CAP - 1 - c->used));
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) {
            int success = (r == 0 && !keepalive) ? response_ok(c) : 0;
            finish(c, success, 0);
            start(c);
            return;
        }
        c->used += (int)r;
        if (keepalive && response_complete(c)) {
            finish(c, response_ok(c), 1);
            start(c);
            return;
        }
    }
}

int main(int argc, char **argv) {
    const char *file = NULL;
    int concurrency = 64, opt;
    double duration = 10;
    while ((opt = getopt(argc, argv, "f:c:n:d:km:")) != -1) {
        switch (opt) {
            case 'f': file = optarg; break;
            case 'c': concurrency = atoi(optarg); break;
            case 'n': max_requests = atol(optarg); break;
            case 'd': duration = atof(optarg); break;
            case 'k': keepalive = 1; break;
            case 'm': match = optarg; break;
            default:
                fprintf(stderr, "usage: c_client -f targets [-c n] [-n n] [-d s] [-k] [-m s]\n");
                return 2;
        }
    }
    if (!file || concurrency < 1 || concurrency > MAX_CONC) {
        fprintf(stderr, "c_client: need -f targets and 1 <= -c <= %d\n", MAX_CONC);
        return 2;
    }
    targets = calloc(MAX_TARGETS, sizeof(target_t));
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    char addr[64], path[400];
    int port;
    while (ntargets < MAX_TARGETS && fscanf(f, "%63s %d %399s", addr, &port, path) == 3) {
        target_t *t = &targets[ntargets];
        t->sa.sin_family = AF_INET;
        t->sa.sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &t->sa.sin_addr) != 1 ||
            (ntohl(t->sa.sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "c_client: refusing non-loopback address %s\n", addr);
            return 1;
        }
        t->req_len = snprintf(t->req, sizeof(t->req),
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: c_client\r\n%s\r\n",
                              path, addr, port, keepalive ? "" : "Connection: close\r\n");
        ntargets++;
    }
    fclose(f);
    if (ntargets == 0) {
        fprintf(stderr, "c_client: no targets\n");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    double t0 = now(), c0 = cpu_self();
    for (int i = 0; i < concurrency; i++) {
        conns[i].fd = -1;
        conns[i].buf = malloc(RESP_CAP);
        start(&conns[i]);
    }
    struct epoll_event events[MAX_CONC];
    double deadline = t0 + duration;
    /* Run until the deadline, then start nothing new and let what is in flight finish
       (at most 5 s more), so every request counted was paid for in full. */
    while (done < started && now() < deadline + 5) {
        if (now() >= deadline) max_requests = started;
        int k = epoll_wait(ep, events, MAX_CONC, 200);
        for (int i = 0; i < k; i++) on_event(events[i].data.ptr, events[i].events);
    }
    double wall = now() - t0, cpu = cpu_self() - c0;
    printf("{\"requests\": %ld, \"ok\": %ld, \"errors\": %ld, \"in_flight\": %ld, "
           "\"wall_s\": %.4f, \"cpu_s\": %.4f}\n",
           done, ok, errors, started - done, wall, cpu);
    return 0;
}
