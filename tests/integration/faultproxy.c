/* SPDX-License-Identifier: Apache-2.0 */
/* faultproxy: a TCP pass-through in front of the real kube-apiserver that
 * integration tests use to inject transport faults (design.md "Tests are
 * real").  TLS passes through untouched: the proxy never looks at bytes.
 *
 *   faultproxy --target HOST:PORT --control SOCKET [--listen 127.0.0.1:PORT]
 *   faultproxy --send SOCKET COMMAND...
 *
 * When both sockets are ready it prints the listening port and a newline on
 * stdout.  Commands, one per line on the unix stream SOCKET, each answered
 * "ok ..." or "error ..." after it took effect:
 *
 *   drop     close every open connection at once (FIN)
 *   reset    close every open connection at once with RST
 *   pause    stop forwarding on the connections open now: a silent stream
 *            (their peers see nothing, not even a close; new connections
 *            still pass)
 *   hang     like pause, and new connections are accepted but stay silent
 *   resume   forward again on every connection (ends pause and hang)
 *   refuse   close new connections as soon as they are accepted
 *   normal   resume, and stop refusing
 *   status   "ok mode=M open=N accepted=A"
 *   quit     exit
 *
 * Plain poll(2), one thread; it is a test tool, kept simple. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_CONNS 256
#define MAX_CONTROL 8
#define CONTROL_LINE 128

typedef struct Pipe {
        char buf[BUF_SIZE];
        size_t len;
        bool eof;      /* the reading side sent FIN */
        bool shut;     /* FIN passed on to the writing side */
} Pipe;

typedef struct Conn {
        int client, upstream;
        bool connecting;   /* upstream connect() in progress */
        bool paused;
        Pipe up, down;     /* client -> upstream, upstream -> client */
} Conn;

typedef struct Control {
        int fd;
        char line[CONTROL_LINE];
        size_t len;
} Control;

typedef struct Proxy {
        int listen_fd, control_fd;
        struct sockaddr_in target;
        Conn *conns[MAX_CONNS];
        size_t n_conns;
        Control controls[MAX_CONTROL];
        size_t n_controls;
        bool refuse, hang, quit;
        unsigned long accepted;
} Proxy;

static volatile sig_atomic_t terminate;

static void on_signal(int sig) {
        (void) sig;
        terminate = 1;
}

static int parse_addr(const char *s, struct sockaddr_in *ret) {
        char host[64];
        const char *colon = strrchr(s, ':');
        char *end;
        long port;

        if (!colon || (size_t) (colon - s) >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, colon - s);
        host[colon - s] = 0;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        ret->sin_family = AF_INET;
        ret->sin_port = htons((uint16_t) port);
        if (inet_pton(AF_INET, host, &ret->sin_addr) != 1)
                return -EINVAL;
        return 0;
}

static void conn_close(Conn *c, bool rst) {
        if (rst) {
                struct linger l = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(c->client, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                if (c->upstream >= 0)
                        (void) setsockopt(c->upstream, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        close(c->client);
        if (c->upstream >= 0)
                close(c->upstream);
        free(c);
}

static void proxy_remove(Proxy *p, size_t i, bool rst) {
        conn_close(p->conns[i], rst);
        p->conns[i] = p->conns[--p->n_conns];
}

static void proxy_drop_all(Proxy *p, bool rst) {
        while (p->n_conns > 0)
                proxy_remove(p, p->n_conns - 1, rst);
}

static void proxy_accept(Proxy *p) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        Conn *c;

        if (fd < 0)
                return;
        p->accepted++;
        if (p->refuse || p->n_conns >= MAX_CONNS) {
                close(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->client = fd;
        c->paused = p->hang;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->upstream = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->upstream < 0) {
                conn_close(c, false);
                return;
        }
        (void) setsockopt(c->upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->upstream, (struct sockaddr *) &p->target, sizeof(p->target)) < 0) {
                if (errno != EINPROGRESS) {
                        /* The server is down: the client sees its connection close. */
                        conn_close(c, false);
                        return;
                }
                c->connecting = true;
        }
        p->conns[p->n_conns++] = c;
}

/* Moves bytes from `from` into pipe and from pipe to `to`.  Returns -1 when
 * the pair is finished (error, or both directions closed). */
static int pipe_read(Pipe *pp, int from) {
        ssize_t n;

        if (pp->eof || pp->len == BUF_SIZE)
                return 0;
        n = read(from, pp->buf + pp->len, BUF_SIZE - pp->len);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
                pp->eof = true;
        pp->len += (size_t) n;
        return 0;
}

static int pipe_write(Pipe *pp, int to) {
        if (pp->len > 0) {
                ssize_t n = send(to, pp->buf, pp->len, MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -1;
                memmove(pp->buf, pp->buf + n, pp->len - (size_t) n);
                pp->len -= (size_t) n;
        }
        if (pp->len == 0 && pp->eof && !pp->shut) {
                (void) shutdown(to, SHUT_WR);
                pp->shut = true;
        }
        return 0;
}

static short pipe_in_events(const Pipe *pp) {
        return !pp->eof && pp->len < BUF_SIZE ? POLLIN : 0;
}

static short pipe_out_events(const Pipe *pp) {
        return pp->len > 0 || (pp->eof && !pp->shut) ? POLLOUT : 0;
}

static const char *proxy_mode(const Proxy *p) {
        if (p->refuse)
                return "refuse";
        if (p->hang)
                return "hang";
        for (size_t i = 0; i < p->n_conns; i++)
                if (p->conns[i]->paused)
                        return "pause";
        return "normal";
}

static void control_reply(Control *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void control_reply(Control *ctl, const char *fmt, ...) {
        char buf[256];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(buf) - 2)
                n = sizeof(buf) - 2;
        buf[n++] = '\n';
        /* A blocking write: control clients read their answer right away. */
        (void) send(ctl->fd, buf, (size_t) n, MSG_NOSIGNAL);
}

static void control_command(Proxy *p, Control *ctl, const char *cmd) {
        if (strcmp(cmd, "drop") == 0 || strcmp(cmd, "reset") == 0) {
                size_t n = p->n_conns;
                proxy_drop_all(p, cmd[0] == 'r');
                control_reply(ctl, "ok dropped=%zu", n);
        } else if (strcmp(cmd, "pause") == 0) {
                for (size_t i = 0; i < p->n_conns; i++)
                        p->conns[i]->paused = true;
                control_reply(ctl, "ok paused=%zu", p->n_conns);
        } else if (strcmp(cmd, "hang") == 0) {
                for (size_t i = 0; i < p->n_conns; i++)
                        p->conns[i]->paused = true;
                p->hang = true;
                control_reply(ctl, "ok");
        } else if (strcmp(cmd, "resume") == 0 || strcmp(cmd, "normal") == 0) {
                for (size_t i = 0; i < p->n_conns; i++)
                        p->conns[i]->paused = false;
                p->hang = false;
                if (cmd[0] == 'n')
                        p->refuse = false;
                control_reply(ctl, "ok");
        } else if (strcmp(cmd, "refuse") == 0) {
                p->refuse = true;
                control_reply(ctl, "ok");
        } else if (strcmp(cmd, "status") == 0) {
                control_reply(ctl, "ok mode=%s open=%zu accepted=%lu", proxy_mode(p), p->n_conns, p->accepted);
        } else if (strcmp(cmd, "quit") == 0) {
                control_reply(ctl, "ok");
                p->quit = true;
        } else
                control_reply(ctl, "error unknown command '%s'", cmd);
}

/* Returns -1 when the control client went away. */
static int control_read(Proxy *p, Control *ctl) {
        char buf[256];
        ssize_t n = read(ctl->fd, buf, sizeof(buf));

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
                return -1;
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        ctl->line[ctl->len] = 0;
                        if (ctl->len > 0 && ctl->line[ctl->len - 1] == '\r')
                                ctl->line[ctl->len - 1] = 0;
                        control_command(p, ctl, ctl->line);
                        ctl->len = 0;
                } else if (ctl->len < CONTROL_LINE - 1)
                        ctl->line[ctl->len++] = buf[i];
                else
                        return -1; /* overlong line: not a client of ours */
        }
        return 0;
}

static int conn_step(Conn *c, const struct pollfd *cfd, const struct pollfd *ufd) {
        if (c->connecting) {
                int err = 0;
                socklen_t len = sizeof(err);

                if (!(ufd->revents & (POLLOUT | POLLERR | POLLHUP)))
                        return 0;
                if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
                        return -1;
                c->connecting = false;
                return 0;
        }
        if (c->paused) {
                /* Silent, but a peer that closes its end ends the pair. */
                if ((cfd->revents | ufd->revents) & (POLLRDHUP | POLLHUP | POLLERR))
                        return -1;
                return 0;
        }
        if ((cfd->revents | ufd->revents) & POLLERR)
                return -1;
        if (cfd->revents & (POLLIN | POLLHUP) && pipe_read(&c->up, c->client) < 0)
                return -1;
        if (ufd->revents & (POLLIN | POLLHUP) && pipe_read(&c->down, c->upstream) < 0)
                return -1;
        if (pipe_write(&c->up, c->upstream) < 0 || pipe_write(&c->down, c->client) < 0)
                return -1;
        if (c->up.shut && c->down.shut)
                return -1;
        return 0;
}

static int proxy_run(Proxy *p) {
        struct pollfd fds[2 + MAX_CONTROL + 2 * MAX_CONNS];

        while (!p->quit && !terminate) {
                size_t n = 0, nc = p->n_conns, nctl = p->n_controls;

                fds[n++] = (struct pollfd) { .fd = p->listen_fd, .events = POLLIN };
                fds[n++] = (struct pollfd) { .fd = p->control_fd, .events = POLLIN };
                for (size_t i = 0; i < nctl; i++)
                        fds[n++] = (struct pollfd) { .fd = p->controls[i].fd, .events = POLLIN };
                for (size_t i = 0; i < nc; i++) {
                        Conn *c = p->conns[i];
                        short ce = 0, ue = 0;

                        if (c->connecting)
                                ue = POLLOUT;
                        else if (c->paused)
                                ce = ue = POLLRDHUP;
                        else {
                                ce = pipe_in_events(&c->up) | pipe_out_events(&c->down);
                                ue = pipe_in_events(&c->down) | pipe_out_events(&c->up);
                        }
                        fds[n++] = (struct pollfd) { .fd = c->client, .events = ce };
                        fds[n++] = (struct pollfd) { .fd = c->upstream, .events = ue };
                }

                if (poll(fds, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("faultproxy: poll");
                        return 1;
                }

                /* Connections first (their slots are stable until removed),
                 * from the end so removal does not move unvisited ones. */
                for (size_t i = nc; i-- > 0;) {
                        const struct pollfd *cfd = &fds[2 + nctl + 2 * i];
                        if (conn_step(p->conns[i], cfd, cfd + 1) < 0)
                                proxy_remove(p, i, false);
                }
                for (size_t i = nctl; i-- > 0;) {
                        if (!(fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        if (control_read(p, &p->controls[i]) < 0) {
                                close(p->controls[i].fd);
                                p->controls[i] = p->controls[--p->n_controls];
                        }
                }
                if (fds[1].revents & POLLIN) {
                        int fd = accept4(p->control_fd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd >= 0 && p->n_controls < MAX_CONTROL)
                                p->controls[p->n_controls++] = (Control) { .fd = fd };
                        else if (fd >= 0)
                                close(fd);
                }
                if (fds[0].revents & POLLIN)
                        proxy_accept(p);
        }
        return 0;
}

static int unix_address(const char *path, struct sockaddr_un *ret) {
        if (strlen(path) >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;
        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        strcpy(ret->sun_path, path);
        return 0;
}

/* Client mode: sends each command, prints each answer; exit 1 on "error". */
static int send_commands(const char *path, char **cmds, int n) {
        struct sockaddr_un sa;
        int fd, rc = 0;
        FILE *f;
        char line[256];

        if (unix_address(path, &sa) < 0) {
                fprintf(stderr, "faultproxy: control socket path too long: %s\n", path);
                return 2;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "faultproxy: cannot connect to %s: %m\n", path);
                return 1;
        }
        f = fdopen(fd, "r+");
        if (!f)
                return 1;
        for (int i = 0; i < n; i++) {
                fprintf(f, "%s\n", cmds[i]);
                fflush(f);
                if (!fgets(line, sizeof(line), f)) {
                        fprintf(stderr, "faultproxy: no answer to '%s'\n", cmds[i]);
                        rc = 1;
                        break;
                }
                fputs(line, stdout);
                if (strncmp(line, "ok", 2) != 0)
                        rc = 1;
        }
        fclose(f);
        return rc;
}

static void usage(void) {
        fprintf(stderr, "usage: faultproxy --target HOST:PORT --control SOCKET [--listen 127.0.0.1:PORT]\n"
                        "       faultproxy --send SOCKET COMMAND...\n");
}

int main(int argc, char **argv) {
        const char *listen_addr = "127.0.0.1:0", *target = NULL, *control = NULL;
        struct sockaddr_in la;
        struct sockaddr_un ua;
        socklen_t len = sizeof(la);
        Proxy p = { .listen_fd = -1, .control_fd = -1 };
        int one = 1, rc;

        if (argc >= 3 && strcmp(argv[1], "--send") == 0)
                return send_commands(argv[2], argv + 3, argc - 3);
        for (int i = 1; i < argc; i++) {
                if (i + 1 < argc && strcmp(argv[i], "--listen") == 0)
                        listen_addr = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--target") == 0)
                        target = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--control") == 0)
                        control = argv[++i];
                else {
                        usage();
                        return 2;
                }
        }
        if (!target || !control) {
                usage();
                return 2;
        }
        if (parse_addr(target, &p.target) < 0 || parse_addr(listen_addr, &la) < 0) {
                fprintf(stderr, "faultproxy: bad address (want IPV4:PORT)\n");
                return 2;
        }
        if (unix_address(control, &ua) < 0) {
                fprintf(stderr, "faultproxy: control socket path too long: %s\n", control);
                return 2;
        }

        signal(SIGPIPE, SIG_IGN);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);

        p.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p.listen_fd < 0 || setsockopt(p.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(p.listen_fd, (struct sockaddr *) &la, sizeof(la)) < 0 || listen(p.listen_fd, 128) < 0 ||
            getsockname(p.listen_fd, (struct sockaddr *) &la, &len) < 0) {
                fprintf(stderr, "faultproxy: cannot listen on %s: %m\n", listen_addr);
                return 1;
        }
        (void) unlink(control);
        p.control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p.control_fd < 0 || bind(p.control_fd, (struct sockaddr *) &ua, sizeof(ua)) < 0 ||
            listen(p.control_fd, 8) < 0) {
                fprintf(stderr, "faultproxy: cannot listen on %s: %m\n", control);
                return 1;
        }

        printf("%u\n", ntohs(la.sin_port));
        fflush(stdout);

        rc = proxy_run(&p);
        proxy_drop_all(&p, false);
        for (size_t i = 0; i < p.n_controls; i++)
                close(p.controls[i].fd);
        close(p.listen_fd);
        close(p.control_fd);
        (void) unlink(control);
        return rc;
}
