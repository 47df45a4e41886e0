/*
 * The C baseline of bench/datapath: write the same Ethernet frame to a tap as fast as a plain
 * write() loop can, for a given time, and print the number of frames written per second.
 * With `vnet` the tap is opened as vifd opens its taps (IFF_VNET_HDR) and each frame goes with
 * a zero virtio_net_hdr, so the kernel takes the same path for both.
 *
 *   tap-writer IFNAME FRAME_BYTES SECONDS [vnet]
 */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct ifreq ifr;
    unsigned char buf[10 + 65536];
    unsigned char *frame;
    long frames = 0;
    int fd, s, len, hdr;
    double secs, start;

    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "vnet") == 0)) {
        fprintf(stderr, "usage: tap-writer IFNAME FRAME_BYTES SECONDS [vnet]\n");
        return 2;
    }
    hdr = argc == 5 ? 10 : 0;
    frame = buf + hdr;
    len = atoi(argv[2]);
    secs = atof(argv[3]);
    fd = open("/dev/net/tun", O_RDWR);
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (hdr ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        perror("tap");
        return 1;
    }
    s = socket(AF_INET, SOCK_DGRAM, 0);
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);

    memset(buf, 0, sizeof(buf));
    memset(frame, 0xff, 6);                       /* broadcast */
    memcpy(frame + 6, "\x00\x16\x3e\x00\x00\x99", 6);
    frame[12] = 0x88; frame[13] = 0xb5;           /* local experimental ethertype */

    start = now();
    while (now() - start < secs) {
        for (int i = 0; i < 1024; i++) {
            if (write(fd, buf, hdr + len) == hdr + len) frames++;
        }
    }
    printf("%.0f\n", frames / (now() - start));
    return 0;
}
