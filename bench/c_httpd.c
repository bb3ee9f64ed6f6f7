/*
 * c_httpd: a small epoll HTTP/HTTPS target server for the probe benchmarks.
 *
 * Listens on every "http|https ADDRESS PORT" line of a listen file (loopback addresses
 * only), answers any request with "200 OK" and a 3-byte body, and closes the
 * connection (Connection: close), so every probe pays for a fresh connection. A TCP
 * connect probe against an http listener is simply accepted and closed.
 *
 *   gcc -O2 -o c_httpd c_httpd.c -lssl -lcrypto
 *   c_httpd -l listen.txt [-c cert.pem -k key.pem] [-w workers] [-t max_seconds]
 *
 * Exits by itself after max_seconds (default 3600) or on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 70000
#define MAX_EVENTS 512
#define REQ_MAX 4096

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    "Connection: close\r\n\r\nok\n";

enum { KIND_LISTEN_HTTP = 1, KIND_LISTEN_HTTPS = 2, KIND_CONN = 3 };

typedef struct {
    int kind;
    int tls;
    SSL *ssl;
    int used;
    char buf[REQ_MAX];
} slot_t;

static slot_t **slots;
static int max_fd;
static SSL_CTX *ctx;
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static slot_t *slot_for(int fd) {
    if (fd >= max_fd) return NULL;
    if (!slots[fd]) slots[fd] = calloc(1, sizeof(slot_t));
    return slots[fd];
}

static void close_conn(int ep, int fd) {
    slot_t *s = slots[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    if (s && s->ssl) {
        SSL_shutdown(s->ssl);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s) {
        s->kind = 0;
        s->used = 0;
    }
    close(fd);
}

static int request_complete(slot_t *s) {
    s->buf[s->used] = 0;
    return strstr(s->buf, "\r\n\r\n") != NULL;
}

static void serve(int ep, int fd) {
    slot_t *s = slots[fd];
    for (;;) {
        if (s->tls) {
            int r;
            if (!SSL_is_init_finished(s->ssl)) {
                r = SSL_accept(s->ssl);
                if (r <= 0) {
                    int e = SSL_get_error(s->ssl, r);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
                    ERR_clear_error();
                    close_conn(ep, fd);
                    return;
                }
            }
            r = SSL_read(s->ssl, s->buf + s->used, REQ_MAX - 1 - s->used);
            if (r <= 0) {
                int e = SSL_get_error(s->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
                ERR_clear_error();
                close_conn(ep, fd);
                return;
            }
            s->used += r;
        } else {
            ssize_t r = read(fd, s->buf + s->used, REQ_MAX - 1 - s->used);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (r <= 0) {
                close_conn(ep, fd);
                return;
            }
            s->used += (int)r;
        }
        if (request_complete(s) || s->used >= REQ_MAX - 1) {
            if (s->tls)
                SSL_write(s->ssl, RESPONSE, sizeof(RESPONSE) - 1);
            else if (write(fd, RESPONSE, sizeof(RESPONSE) - 1) < 0) {
                /* the peer is gone; nothing to answer */
            }
            close_conn(ep, fd);
            return;
        }
    }
}

static void accept_all(int ep, int lfd, int tls) {
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        slot_t *s = slot_for(fd);
        if (!s) {
            close(fd);
            continue;
        }
        s->kind = KIND_CONN;
        s->tls = tls;
        s->used = 0;
        s->ssl = NULL;
        if (tls) {
            s->ssl = SSL_new(ctx);
            SSL_set_fd(s->ssl, fd);
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        serve(ep, fd);
    }
}

static int listen_on(const char *addr, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "c_httpd: refusing non-loopback address %s\n", addr);
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "c_httpd: %s:%d: %s\n", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void worker(int *lfds, int *lkinds, int n, int max_seconds) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfds[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev);
    }
    struct epoll_event events[MAX_EVENTS];
    time_t deadline = time(NULL) + max_seconds;
    while (!stop && time(NULL) < deadline) {
        int k = epoll_wait(ep, events, MAX_EVENTS, 500);
        for (int i = 0; i < k; i++) {
            int fd = events[i].data.fd;
            slot_t *s = slots[fd];
            if (!s) continue;
            if (s->kind == KIND_LISTEN_HTTP)
                accept_all(ep, fd, 0);
            else if (s->kind == KIND_LISTEN_HTTPS)
                accept_all(ep, fd, 1);
            else if (s->kind == KIND_CONN)
                serve(ep, fd);
        }
    }
    (void)lkinds;
}

int main(int argc, char **argv) {
    const char *listen_file = NULL, *cert = NULL, *key = NULL;
    int workers = 1, max_seconds = 3600, opt;
    while ((opt = getopt(argc, argv, "l:c:k:w:t:")) != -1) {
        switch (opt) {
            case 'l': listen_file = optarg; break;
            case 'c': cert = optarg; break;
            case 'k': key = optarg; break;
            case 'w': workers = atoi(optarg); break;
            case 't': max_seconds = atoi(optarg); break;
            default:
                fprintf(stderr, "usage: c_httpd -l listen.txt [-c cert -k key] [-w n] [-t s]\n");
                return 2;
        }
    }
    if (!listen_file) {
        fprintf(stderr, "c_httpd: -l listen file is required\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    max_fd = (int)(rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur);
    slots = calloc((size_t)max_fd, sizeof(slot_t *));
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    if (cert && key) {
        ctx = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "c_httpd: cannot load certificate or key\n");
            return 1;
        }
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
    }

    FILE *f = fopen(listen_file, "r");
    if (!f) {
        perror(listen_file);
        return 1;
    }
    static int lfds[MAX_LISTEN], lkinds[MAX_LISTEN];
    int n = 0;
    char kind[16], addr[64];
    int port;
    while (n < MAX_LISTEN && fscanf(f, "%15s %63s %d", kind, addr, &port) == 3) {
        int tls = strcmp(kind, "https") == 0;
        if (tls && !ctx) {
            fprintf(stderr, "c_httpd: https listener needs -c and -k\n");
            return 1;
        }
        int fd = listen_on(addr, port);
        if (fd < 0) return 1;
        slot_t *s = slot_for(fd);
        s->kind = tls ? KIND_LISTEN_HTTPS : KIND_LISTEN_HTTP;
        lfds[n] = fd;
        lkinds[n] = s->kind;
        n++;
    }
    fclose(f);
    printf("ready %d\n", n);
    fflush(stdout);

    pid_t kids[64];
    int nkids = 0;
    for (int i = 1; i < workers && i < 64; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            worker(lfds, lkinds, n, max_seconds);
            _exit(0);
        }
        if (pid > 0) kids[nkids++] = pid;
    }
    worker(lfds, lkinds, n, max_seconds);
    for (int i = 0; i < nkids; i++) {
        kill(kids[i], SIGTERM);
        waitpid(kids[i], NULL, 0);
    }
    return 0;
}
