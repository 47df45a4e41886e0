/*
 * The C reference for bench/datapath's ring figures: the same work as vifd's ring-only run, a
 * guest's netfront and a backend's tx path taking turns on one thread, written as plainly as C
 * allows. Per frame the guest copies it into its page, grants the page, writes a request and
 * later takes the response and ends the grant; the backend reads req_prod once per sweep,
 * copies each request out of the ring, checks the grant entry (type, grantee, readonly is
 * irrelevant for a read, frame inside the domain), copies the frame out of the page, discards
 * it and answers. Layouts are Xen's (netif.h, grant_table.h, ring.h). Prints frames/s.
 *
 *   ring-loop FRAME_BYTES SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_SIZE 4096
#define RING_SIZE 256
#define NR_GRANTS 1024
#define GNTTAB_RESERVED 8
#define GTF_permit_access 1
#define GTF_type_mask 3
#define BACKEND_DOMID 0

struct tx_request { uint32_t gref; uint16_t offset, flags, id, size; };
struct tx_response { uint16_t id; int16_t status; };
union tx_slot { struct tx_request req; struct tx_response rsp; };
struct tx_sring {
    uint32_t req_prod, req_event, rsp_prod, rsp_event;
    uint8_t pad[48];
    union tx_slot ring[RING_SIZE];
};
struct grant_entry { uint16_t flags, domid; uint32_t frame; };

static uint8_t memory[(RING_SIZE + 1) * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static struct grant_entry grants[NR_GRANTS];
static const uint32_t nr_frames = RING_SIZE + 1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The backend's sweep: every request up to one snapshot of req_prod; returns frames taken. */
static uint32_t backend_sweep(struct tx_sring *s, uint32_t *req_cons, uint8_t *scratch, volatile uint8_t *sink)
{
    uint32_t rp = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
    uint32_t taken = 0;
    while (*req_cons != rp) {
        uint32_t idx = *req_cons & (RING_SIZE - 1);
        struct tx_request req;
        memcpy(&req, &s->ring[idx].req, sizeof(req));
        (*req_cons)++;
        int16_t status = -1;
        if (req.size >= 14 && req.offset + req.size <= PAGE_SIZE && req.gref < NR_GRANTS) {
            struct grant_entry e;
            memcpy(&e, &grants[req.gref], sizeof(e));
            if ((e.flags & GTF_type_mask) == GTF_permit_access && e.domid == BACKEND_DOMID && e.frame < nr_frames) {
                memcpy(scratch, memory + (size_t)e.frame * PAGE_SIZE + req.offset, req.size);
                *sink ^= scratch[req.size - 1];
                status = 0;
                taken++;
            }
        }
        /* The response goes into the slot of the request it answers, as netback's do. */
        s->ring[idx].rsp.id = req.id;
        s->ring[idx].rsp.status = status;
    }
    __atomic_store_n(&s->rsp_prod, rp, __ATOMIC_RELEASE);
    return taken;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ring-loop FRAME_BYTES SECONDS\n");
        return 2;
    }
    size_t bytes = (size_t)atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (bytes < 14 || bytes > PAGE_SIZE) {
        fprintf(stderr, "ring-loop: a frame is 14 to %d bytes\n", PAGE_SIZE);
        return 2;
    }
    struct tx_sring *s = (struct tx_sring *)memory;
    uint8_t frame[PAGE_SIZE], scratch[PAGE_SIZE];
    memset(frame, 0xff, 6);
    memset(frame + 6, 0x02, bytes - 6);
    volatile uint8_t sink = 0;
    uint16_t free_ids[RING_SIZE];
    uint32_t nfree = RING_SIZE, req_prod = 0, rsp_cons = 0, req_cons = 0;
    for (uint32_t i = 0; i < RING_SIZE; i++) free_ids[i] = (uint16_t)i;

    uint64_t frames = 0;
    double t0 = now(), t = t0;
    while (t - t0 < seconds) {
        for (int turn = 0; turn < 64; turn++) {
            /* The guest: take the answered slots back, ending their grants... */
            uint32_t rp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
            for (; rsp_cons != rp; rsp_cons++) {
                uint16_t id = s->ring[rsp_cons & (RING_SIZE - 1)].rsp.id;
                grants[GNTTAB_RESERVED + id].flags = 0;
                free_ids[nfree++] = id;
            }
            /* ...and fill the free ones: copy, grant, request. */
            while (nfree > 0) {
                uint16_t id = free_ids[--nfree];
                uint32_t frame_no = 1u + id;
                memcpy(memory + (size_t)frame_no * PAGE_SIZE, frame, bytes);
                uint32_t gref = GNTTAB_RESERVED + id;
                grants[gref].domid = BACKEND_DOMID;
                grants[gref].frame = frame_no;
                __atomic_store_n(&grants[gref].flags, GTF_permit_access, __ATOMIC_RELEASE);
                struct tx_request req = { gref, 0, 0, id, (uint16_t)bytes };
                memcpy(&s->ring[req_prod & (RING_SIZE - 1)].req, &req, sizeof(req));
                req_prod++;
            }
            __atomic_store_n(&s->req_prod, req_prod, __ATOMIC_RELEASE);
            frames += backend_sweep(s, &req_cons, scratch, &sink);
        }
        t = now();
    }
    printf("%.0f\n", frames / (t - t0));
    return 0;
}
