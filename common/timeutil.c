/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 timestamps as Kubernetes writes them, and Go duration syntax.
 * Calendar arithmetic is done here (days from civil) rather than through
 * timegm()/gmtime_r(), so results never depend on TZ or time_t width. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "macros.h"
#include "timeutil.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m) {
        static const unsigned dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Exactly n decimal digits at *s. */
static int digits(const char **s, unsigned n, unsigned *ret) {
        unsigned v = 0;
        for (unsigned i = 0; i < n; i++) {
                char c = (*s)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (c - '0');
        }
        *s += n;
        *ret = v;
        return 0;
}

static int expect(const char **s, char c) {
        if (**s != c)
                return -EINVAL;
        (*s)++;
        return 0;
}

int rfc3339_parse(const char *s, usec_t *ret) {
        unsigned year, month, day, hour, min, sec, usec = 0;
        int64_t offset = 0, secs;

        if (!s)
                return -EINVAL;
        if (digits(&s, 4, &year) < 0 || expect(&s, '-') < 0 || digits(&s, 2, &month) < 0 ||
            expect(&s, '-') < 0 || digits(&s, 2, &day) < 0)
                return -EINVAL;
        if (*s != 'T' && *s != 't')
                return -EINVAL;
        s++;
        if (digits(&s, 2, &hour) < 0 || expect(&s, ':') < 0 || digits(&s, 2, &min) < 0 ||
            expect(&s, ':') < 0 || digits(&s, 2, &sec) < 0)
                return -EINVAL;
        if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || min > 59 ||
            sec > 59)
                return -EINVAL;
        if (*s == '.') {
                unsigned n = 0;
                s++;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++, n++)
                        if (n < 6)
                                usec = usec * 10 + (unsigned) (*s - '0');
                for (; n < 6; n++)
                        usec *= 10;
        }
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int sign = *s == '-' ? -1 : 1;
                unsigned oh, om;
                s++;
                if (digits(&s, 2, &oh) < 0 || expect(&s, ':') < 0 || digits(&s, 2, &om) < 0 || oh > 23 ||
                    om > 59)
                        return -EINVAL;
                offset = sign * (int64_t) (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*s)
                return -EINVAL;

        secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
        if (secs < 0)
                return -ERANGE; /* before the epoch: usec_t cannot hold it */
        *ret = (usec_t) secs * USEC_PER_SEC + usec;
        return 0;
}

/* frac_digits: -1 = trimmed fraction, 0 = none, 6 = always six digits. */
static const char *format(usec_t t, char buf[static RFC3339_MAX], int frac_digits) {
        int64_t days = (int64_t) (t / USEC_PER_SEC / 86400), y;
        unsigned secs = (unsigned) (t / USEC_PER_SEC % 86400), m, d;
        unsigned usec = (unsigned) (t % USEC_PER_SEC);
        int n;

        civil_from_days(days, &y, &m, &d);
        n = snprintf(buf, RFC3339_MAX, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long) y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60);
        if (frac_digits == 6)
                n += snprintf(buf + n, RFC3339_MAX - (size_t) n, ".%06u", usec);
        else if (frac_digits < 0 && usec != 0) {
                unsigned width = 6;
                while (usec % 10 == 0) {
                        usec /= 10;
                        width--;
                }
                n += snprintf(buf + n, RFC3339_MAX - (size_t) n, ".%0*u", (int) width, usec);
        }
        snprintf(buf + n, RFC3339_MAX - (size_t) n, "Z");
        return buf;
}

const char *rfc3339_format(usec_t t, char buf[static RFC3339_MAX]) {
        return format(t, buf, -1);
}

const char *rfc3339_format_seconds(usec_t t, char buf[static RFC3339_MAX]) {
        return format(t, buf, 0);
}

const char *rfc3339_format_micro(usec_t t, char buf[static RFC3339_MAX]) {
        return format(t, buf, 6);
}

/* Go's time.ParseDuration, in nanoseconds with Go's int64 range, then
 * truncated to microseconds. */
int duration_parse(const char *s, usec_t *ret) {
        static const struct {
                const char *name;
                uint64_t ns;
        } units[] = {
                { "ns", 1 },
                { "us", 1000 },
                { "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
                { "\xce\xbcs", 1000 }, /* U+03BC greek mu */
                { "ms", 1000000 },
                { "s", 1000000000 },
                { "m", UINT64_C(60000000000) },
                { "h", UINT64_C(3600000000000) },
        };
        const uint64_t max = INT64_MAX;
        bool neg = false;
        uint64_t total = 0;

        if (!s || !*s)
                return -EINVAL;
        if (*s == '-' || *s == '+') {
                neg = *s == '-';
                s++;
        }
        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*s)
                return -EINVAL;
        while (*s) {
                uint64_t whole = 0, frac = 0, scale = 1, unit = 0, v;
                bool any = false, overflow = false;
                const char *u;
                size_t ulen;

                if (!(*s == '.' || (*s >= '0' && *s <= '9')))
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++) {
                        any = true;
                        if (whole > (max - (uint64_t) (*s - '0')) / 10)
                                overflow = true;
                        else
                                whole = whole * 10 + (uint64_t) (*s - '0');
                }
                if (*s == '.') {
                        s++;
                        for (; *s >= '0' && *s <= '9'; s++) {
                                any = true;
                                /* Digits beyond what int64 can scale are dropped, as in Go. */
                                if (scale <= max / 10) {
                                        frac = frac * 10 + (uint64_t) (*s - '0');
                                        scale *= 10;
                                }
                        }
                }
                if (!any)
                        return -EINVAL;
                u = s;
                while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
                        s++;
                ulen = (size_t) (s - u);
                if (ulen == 0)
                        return -EINVAL; /* missing unit */
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0) {
                                unit = units[i].ns;
                                break;
                        }
                if (unit == 0)
                        return -EINVAL;
                if (overflow || whole > max / unit)
                        return -ERANGE;
                v = whole * unit;
                if (frac > 0)
                        v += (uint64_t) ((long double) frac * ((long double) unit / (long double) scale));
                if (v > max || total > max - v)
                        return -ERANGE;
                total += v;
        }
        if (neg && total > 0)
                return -ERANGE;
        *ret = total / NSEC_PER_USEC;
        return 0;
}
