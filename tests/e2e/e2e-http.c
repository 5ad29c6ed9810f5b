/* SPDX-License-Identifier: Apache-2.0 */
/* e2e-http: the backend "pods" and the client of the full-path e2e cases
 * (tests/e2e/cases-fullpath.sh).  Each request is a new TCP connection, so
 * every one is a fresh decision of kube-proxy's rules (a new conntrack
 * entry), and the answer names the backend that got it and the address the
 * backend saw it come from (the node that masqueraded it, or the client
 * itself under externalTrafficPolicy: Local).
 *
 *   e2e-http serve NAME [--port P]
 *       Listens on every address of the namespace, IPv4 and IPv6 (default
 *       port 8080), and answers each request on its own connection with
 *           HTTP/1.1 200 OK ... Connection: close
 *           NAME PEER
 *       then closes it.  One connection at a time: a client that sends
 *       nothing is dropped after a second.
 *
 *   e2e-http probe IP PORT [--count N | --duration-ms MS] [--interval-ms MS] [--timeout-ms MS]
 *       Sends GET / on a new connection, one after the other (the next
 *       starts --interval-ms, default 0, after the previous ended), for N
 *       requests (default 1) or MS milliseconds.  --timeout-ms (default
 *       500) bounds each request, connect included.  Prints per request
 *           ok <start-epoch-ms> <end-epoch-ms> NAME PEER
 *           fail <start-epoch-ms> <end-epoch-ms> <reason>
 *       (CLOCK_REALTIME, so the shell's `date +%s%N` compares), then
 *           summary ok=N fail=N
 *
 * Exit status: probe 0 if the last request succeeded, 1 if it failed; 2 on
 * bad usage or a system error. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF 2048

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void) {
        fprintf(stderr,
                "usage: e2e-http serve NAME [--port P]\n"
                "       e2e-http probe IP PORT [--count N | --duration-ms MS] [--interval-ms MS] [--timeout-ms MS]\n");
        return 2;
}

static int parse_num(const char *s, long min, long max, long *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The peer as text, an IPv4-mapped address as plain IPv4. */
static void format_peer(const struct sockaddr_in6 *sa, char *buf, size_t len) {
        if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr))
                inet_ntop(AF_INET, &sa->sin6_addr.s6_addr[12], buf, len);
        else
                inet_ntop(AF_INET6, &sa->sin6_addr, buf, len);
}

/* Waits for FD to become ready for EVENTS until the monotonic DEADLINE. */
static int wait_fd(int fd, short events, int64_t deadline) {
        struct pollfd p = { .fd = fd, .events = events };
        int64_t left = deadline - mono_ms();
        int r;

        if (left <= 0)
                return -ETIMEDOUT;
        r = poll(&p, 1, (int) left);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

static void serve_one(int fd, const char *name) {
        char req[IO_BUF], peer[INET6_ADDRSTRLEN] = "?", body[256], resp[512];
        struct sockaddr_in6 sa;
        socklen_t salen = sizeof(sa);
        size_t have = 0;
        int64_t deadline = mono_ms() + 1000;
        int n;

        if (getpeername(fd, (struct sockaddr *) &sa, &salen) == 0)
                format_peer(&sa, peer, sizeof(peer));
        /* Reads the request head; its content does not matter. */
        while (have < sizeof(req) - 1) {
                ssize_t r;

                if (wait_fd(fd, POLLIN, deadline) < 0)
                        return;
                r = read(fd, req + have, sizeof(req) - 1 - have);
                if (r <= 0)
                        return;
                have += (size_t) r;
                req[have] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        snprintf(body, sizeof(body), "%s %s\n", name, peer);
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
        if (write(fd, resp, (size_t) n) < 0)
                return;
}

static int serve(int argc, char **argv) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        const char *name;
        long port = 8080;
        int fd, off = 0, on = 1;

        if (argc < 1)
                return usage();
        name = argv[0];
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
                        if (parse_num(argv[++i], 1, 65535, &port) < 0)
                                return usage();
                } else
                        return usage();
        }
        sa.sin6_port = htons((uint16_t) port);
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(fd, 128) < 0) {
                fprintf(stderr, "e2e-http: listen on port %ld: %m\n", port);
                return 2;
        }
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "e2e-http: accept: %m\n");
                        return 2;
                }
                serve_one(c, name);
                close(c);
        }
}

/* One GET on a new connection.  On success writes "NAME PEER" to OUT. */
static int probe_one(const struct sockaddr_storage *dst, socklen_t dstlen, long timeout_ms,
                     char *out, size_t outlen, const char **ret_reason) {
        char buf[IO_BUF];
        const char *req = "GET / HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n";
        int64_t deadline = mono_ms() + timeout_ms;
        size_t have = 0;
        int fd, err = 0, r;
        socklen_t errlen = sizeof(err);
        char *body, *nl;

        fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                *ret_reason = "socket";
                return -errno;
        }
        if (connect(fd, (const struct sockaddr *) dst, dstlen) < 0 && errno != EINPROGRESS) {
                r = -errno;
                *ret_reason = "connect";
                goto out;
        }
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0) {
                *ret_reason = "connect-timeout";
                goto out;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err != 0) {
                r = -(err ? err : errno);
                *ret_reason = err == ECONNREFUSED ? "refused" : err == EHOSTUNREACH ? "unreachable" : "connect-error";
                goto out;
        }
        if (write(fd, req, strlen(req)) < 0) {
                r = -errno;
                *ret_reason = "write";
                goto out;
        }
        for (;;) {
                ssize_t n;

                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0) {
                        *ret_reason = "read-timeout";
                        goto out;
                }
                n = read(fd, buf + have, sizeof(buf) - 1 - have);
                if (n < 0) {
                        r = -errno;
                        *ret_reason = errno == ECONNRESET ? "reset" : "read";
                        goto out;
                }
                if (n == 0 || have + (size_t) n >= sizeof(buf) - 1) {
                        have += (size_t) n;
                        break;
                }
                have += (size_t) n;
        }
        buf[have] = '\0';
        body = strstr(buf, "\r\n\r\n");
        if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || !body) {
                r = -EPROTO;
                *ret_reason = "bad-response";
                goto out;
        }
        body += 4;
        nl = strchr(body, '\n');
        if (nl)
                *nl = '\0';
        snprintf(out, outlen, "%s", body);
        r = 0;
out:
        close(fd);
        return r;
}

static int probe(int argc, char **argv) {
        struct sockaddr_storage dst = {};
        socklen_t dstlen;
        long port, count = 1, duration = -1, interval = 0, timeout = 500, ok = 0, failed = 0;
        bool last_ok = false;
        int64_t end;

        if (argc < 2 || parse_num(argv[1], 1, 65535, &port) < 0)
                return usage();
        for (int i = 2; i < argc; i++) {
                long *target;

                if (i + 1 >= argc)
                        return usage();
                if (strcmp(argv[i], "--count") == 0)
                        target = &count;
                else if (strcmp(argv[i], "--duration-ms") == 0)
                        target = &duration;
                else if (strcmp(argv[i], "--interval-ms") == 0)
                        target = &interval;
                else if (strcmp(argv[i], "--timeout-ms") == 0)
                        target = &timeout;
                else
                        return usage();
                if (parse_num(argv[++i], 0, 3600000, target) < 0)
                        return usage();
        }
        if (inet_pton(AF_INET, argv[0], &((struct sockaddr_in *) &dst)->sin_addr) == 1) {
                ((struct sockaddr_in *) &dst)->sin_family = AF_INET;
                ((struct sockaddr_in *) &dst)->sin_port = htons((uint16_t) port);
                dstlen = sizeof(struct sockaddr_in);
        } else if (inet_pton(AF_INET6, argv[0], &((struct sockaddr_in6 *) &dst)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *) &dst)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *) &dst)->sin6_port = htons((uint16_t) port);
                dstlen = sizeof(struct sockaddr_in6);
        } else
                return usage();
        setvbuf(stdout, NULL, _IOLBF, 0);
        end = duration >= 0 ? mono_ms() + duration : INT64_MAX;
        for (long k = 0; duration >= 0 ? mono_ms() < end : k < count; k++) {
                char answer[256];
                const char *reason = "";
                int64_t t0 = now_ms(), t1;
                int r = probe_one(&dst, dstlen, timeout, answer, sizeof(answer), &reason);

                t1 = now_ms();
                last_ok = r >= 0;
                if (last_ok) {
                        ok++;
                        printf("ok %lld %lld %s\n", (long long) t0, (long long) t1, answer);
                } else {
                        failed++;
                        printf("fail %lld %lld %s\n", (long long) t0, (long long) t1, reason);
                }
                if (interval > 0)
                        usleep((useconds_t) interval * 1000);
        }
        printf("summary ok=%ld fail=%ld\n", ok, failed);
        return last_ok ? 0 : 1;
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "serve") == 0)
                return serve(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "probe") == 0)
                return probe(argc - 2, argv + 2);
        return usage();
}
