/*
 * One-in-flight QMP client in C for bench/qmp: negotiates, then sends query-version N times,
 * waiting for each reply line, and prints "RPS P50_US P99_US". A C client keeps the client's
 * own cost out of the server's measured latency; bench/qmp uses it for both servers alike.
 *
 *   qmp-pingpong SOCKET_PATH N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];
static int have;

static int read_line(int fd)
{
    for (;;) {
        char *nl = memchr(buf, '\n', have);
        if (nl) {
            int n = nl - buf + 1;
            memmove(buf, buf + n, have - n);
            have -= n;
            return n;
        }
        int r = read(fd, buf + have, sizeof(buf) - have);
        if (r <= 0) return -1;
        have += r;
    }
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int send_all(int fd, const char *s)
{
    size_t len = strlen(s);
    return write(fd, s, len) == (ssize_t)len ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    const char *req = "{\"execute\":\"query-version\"}";
    double total = 0, *lat;
    int fd, n;

    if (argc != 3) {
        fprintf(stderr, "usage: qmp-pingpong SOCKET N\n");
        return 2;
    }
    n = atoi(argv[2]);
    lat = malloc(n * sizeof(double));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || read_line(fd) < 0 ||
        send_all(fd, "{\"execute\":\"qmp_capabilities\"}") < 0 || read_line(fd) < 0) {
        perror("qmp-pingpong");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        double t = now_us();
        if (send_all(fd, req) < 0 || read_line(fd) < 0) {
            perror("qmp-pingpong");
            return 1;
        }
        lat[i] = now_us() - t;
        total += lat[i];
    }
    qsort(lat, n, sizeof(double), cmp);
    printf("%.0f %.0f %.0f\n", n / (total / 1e6), lat[n / 2], lat[n * 99 / 100]);
    return 0;
}
