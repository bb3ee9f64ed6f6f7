/*
 * c_dnsd: a small UDP DNS responder for the probe benchmarks.
 *
 * Listens on every "dns ADDRESS PORT" line of a listen file (loopback addresses only).
 * Every query gets NOERROR and, for type A, one answer (the name -> 127.0.0.1, TTL 60);
 * other types get NOERROR with an empty answer section.
 *
 *   gcc -O2 -o c_dnsd c_dnsd.c
 *   c_dnsd -l listen.txt [-t max_seconds]
 *
 * Exits by itself after max_seconds (default 3600) or on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 4096

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* Answer one query in place; returns the reply length or -1 to drop it. */
static int answer(unsigned char *m, int len, int cap) {
    if (len < 12) return -1;
    int qd = (m[4] << 8) | m[5];
    if (qd != 1 || (m[2] & 0x80)) return -1;
    int p = 12;
    while (p < len && m[p] != 0) {
        if ((m[p] & 0xc0) != 0) return -1;
        p += m[p] + 1;
    }
    p += 1;
    if (p + 4 > len) return -1;
    int qtype = (m[p] << 8) | m[p + 1];
    p += 4; /* end of question */
    m[2] = 0x84 | (m[2] & 0x01); /* QR, AA, keep RD */
    m[3] = 0x80;                 /* RA, NOERROR */
    m[6] = 0;
    m[7] = 0;
    m[8] = m[9] = m[10] = m[11] = 0; /* no authority or additional records */
    if (qtype == 1) {
        if (p + 16 > cap) return -1;
        static const unsigned char rr[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
        memcpy(m + p, rr, sizeof(rr));
        p += sizeof(rr);
        m[7] = 1;
    }
    return p;
}

int main(int argc, char **argv) {
    const char *listen_file = NULL;
    int max_seconds = 3600, opt;
    while ((opt = getopt(argc, argv, "l:t:")) != -1) {
        if (opt == 'l')
            listen_file = optarg;
        else if (opt == 't')
            max_seconds = atoi(optarg);
        else {
            fprintf(stderr, "usage: c_dnsd -l listen.txt [-t s]\n");
            return 2;
        }
    }
    if (!listen_file) {
        fprintf(stderr, "c_dnsd: -l listen file is required\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    FILE *f = fopen(listen_file, "r");
    if (!f) {
        perror(listen_file);
        return 1;
    }
    char kind[16], addr[64];
    int port, n = 0;
    while (n < MAX_LISTEN && fscanf(f, "%15s %63s %d", kind, addr, &port) == 3) {
        if (strcmp(kind, "dns") != 0) continue;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
            (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "c_dnsd: refusing non-loopback address %s\n", addr);
            return 1;
        }
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int buf = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            fprintf(stderr, "c_dnsd: %s:%d: %s\n", addr, port, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        n++;
    }
    fclose(f);
    printf("ready %d\n", n);
    fflush(stdout);
    struct epoll_event events[256];
    unsigned char m[1500];
    time_t deadline = time(NULL) + max_seconds;
    while (!stop && time(NULL) < deadline) {
        int k = epoll_wait(ep, events, 256, 500);
        for (int i = 0; i < k; i++) {
            int fd = events[i].data.fd;
            for (int j = 0; j < 64; j++) {
                struct sockaddr_in from;
                socklen_t flen = sizeof(from);
                ssize_t r = recvfrom(fd, m, sizeof(m), 0, (struct sockaddr *)&from, &flen);
                if (r < 0) break;
                int out = answer(m, (int)r, (int)sizeof(m));
                if (out > 0) sendto(fd, m, (size_t)out, 0, (struct sockaddr *)&from, flen);
            }
        }
    }
    return 0;
}
