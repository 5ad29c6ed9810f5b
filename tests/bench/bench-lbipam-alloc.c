/* SPDX-License-Identifier: Apache-2.0 */
/* bench-lbipam-alloc: the cost of an lbipam allocation (first free address,
 * §8 check, assign) as a pool fills, and the allocator's heap.  Prints
 * figures; it is not a pass/fail test. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_alloc.h"

#define N 10000

static const LbPortPair tcp80[] = { { "TCP", 80 } };

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t heap_bytes(void) {
        struct mallinfo2 m = mallinfo2();
        /* Large tables may be mmapped: count those too. */
        return m.uordblks + m.hblkhd;
}

typedef struct Bench {
        LbConfig cfg;
        LbPool pool;
        IpCidr cidr;
        LbAllocator *a;
        int64_t *ns;        /* per allocation */
        char (*keys)[24];
} Bench;

static void bench_init(Bench *b, const char *cidr) {
        *b = (Bench) {};
        if (ip_cidr_parse(cidr, true, &b->cidr) < 0)
                abort();
        b->pool = (LbPool) { .name = "bench", .n_cidrs = 1, .cidrs = &b->cidr, .auto_assign = true };
        b->cfg = (LbConfig) { .n_pools = 1, .pools = &b->pool };
        b->ns = calloc(N, sizeof(int64_t));
        b->keys = calloc(N, sizeof(*b->keys));
        if (!b->ns || !b->keys || lb_allocator_new(&b->a) < 0 || lb_allocator_set_config(b->a, &b->cfg, NULL, NULL) < 0)
                abort();
        for (int i = 0; i < N; i++)
                snprintf(b->keys[i], sizeof b->keys[i], "default/svc-%05d", i);
}

static void bench_done(Bench *b) {
        lb_allocator_free(b->a);
        free(b->ns);
        free(b->keys);
}

/* One automatic allocation as the reconcile does it. */
static int64_t allocate_one(Bench *b, const LbServiceShare *s) {
        IpAddr ip;
        int64_t t0 = now_ns();
        if (lb_allocator_first_free(b->a, &b->pool, b->cidr.addr.family, s, &ip) < 0 ||
            lb_allocator_check_share(b->a, &ip, s, NULL) < 0 || lb_allocator_assign(b->a, s, &b->pool, &ip, 1) < 0) {
                fprintf(stderr, "allocation failed\n");
                exit(1);
        }
        return now_ns() - t0;
}

static double avg(const int64_t *ns, int from, int to) {
        int64_t sum = 0;
        for (int i = from; i < to; i++)
                sum += ns[i];
        return (double) sum / (to - from);
}

static void report(const char *name, const int64_t *ns, int n, size_t heap) {
        printf("%-28s 1st %6lld ns  %dth %6lld ns  ratio %.2f  | avg first 100 %6.0f ns, last 100 %6.0f ns "
               "(ratio %.2f) | avg %6.0f ns | heap %zu bytes (%.1f per allocation)\n",
               name, (long long) ns[0], n, (long long) ns[n - 1], (double) ns[n - 1] / (double) ns[0],
               avg(ns, 0, 100), avg(ns, n - 100, n), avg(ns, n - 100, n) / avg(ns, 0, 100), avg(ns, 0, n), heap,
               (double) heap / n);
}

static void run_plain(const char *name, const char *cidr) {
        Bench b;
        size_t before;

        bench_init(&b, cidr);
        before = heap_bytes();
        for (int i = 0; i < N; i++) {
                LbServiceShare s = { .key = b.keys[i], .backend_key = "", .n_ports = 1, .ports = tcp80 };
                b.ns[i] = allocate_one(&b, &s);
        }
        report(name, b.ns, N, heap_bytes() - before);
        bench_done(&b);
}

static void run_sharing(void) {
        static LbPortPair ports[N];
        char keys[100][8];
        Bench b;
        size_t before;

        bench_init(&b, "10.0.0.0/16");
        for (int k = 0; k < 100; k++)
                snprintf(keys[k], sizeof keys[k], "key%02d", k);
        before = heap_bytes();
        for (int i = 0; i < N; i++) {
                /* 100 Services per key, each on its own port: each key packs onto one address. */
                ports[i] = (LbPortPair) { "TCP", 1000 + i / 100 };
                LbServiceShare s = { .key = b.keys[i], .sharing_key = keys[i % 100], .backend_key = "",
                                     .n_ports = 1, .ports = &ports[i] };
                b.ns[i] = allocate_one(&b, &s);
        }
        int64_t v4, v6;
        lb_allocator_pool_usage(b.a, "bench", &v4, &v6);
        report("/16, 100 sharing keys", b.ns, N, heap_bytes() - before);
        printf("%-28s distinct addresses held: %lld\n", "", (long long) v4);
        bench_done(&b);
}

static void run_fragmented(void) {
        Bench b;
        size_t before;

        bench_init(&b, "10.0.0.0/16");
        for (int i = 0; i < N; i++) {
                LbServiceShare s = { .key = b.keys[i], .backend_key = "", .n_ports = 1, .ports = tcp80 };
                allocate_one(&b, &s);
        }
        for (int i = 0; i < N; i += 2)
                lb_allocator_release(b.a, b.keys[i]);
        before = heap_bytes();
        for (int i = 0; i < N / 2; i++) {
                char key[32];
                snprintf(key, sizeof key, "default/new-%05d", i);
                LbServiceShare s = { .key = key, .backend_key = "", .n_ports = 1, .ports = tcp80 };
                b.ns[i] = allocate_one(&b, &s);
        }
        report("/16 fragmented, refill 5000", b.ns, N / 2, heap_bytes() - before);
        bench_done(&b);
}

int main(void) {
        printf("bench-lbipam-alloc: %d allocations each (first free + §8 check + assign)\n", N);
        run_plain("/16", "10.0.0.0/16");
        run_plain("IPv6 /64", "fd00::/64");
        run_sharing();
        run_fragmented();
        return 0;
}
