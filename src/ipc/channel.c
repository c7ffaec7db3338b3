/*
 * channel.c - shared-memory channel (see include/ranpipe/channel.h).
 *
 * Layout of the memfd:
 *   struct shm_header   magic, version, sizes, and the two rings' indices
 *   request ring        cap descriptors (struct rp_msg, 64 bytes each)
 *   response ring       cap descriptors
 *   payload slots       slots x slot_bytes
 * cap equals the number of slots: every message in flight owns a distinct
 * slot, so a ring can never overflow in normal use.
 *
 * Ring indices are free-running 64-bit counters in shared memory (lock-free
 * C11 atomics are address-free, so they work across processes). The
 * producer publishes an entry with a release store of head; the consumer
 * frees it with a release store of tail. Sleeping uses the classic Dekker
 * handshake: the consumer stores sleeping = 1 then re-reads head; the
 * producer stores head then reads sleeping; with sequentially consistent
 * ordering on both pairs one of them must see the other, so a wakeup is
 * never lost.
 */
#define _GNU_SOURCE
#include "ranpipe/channel.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHANNEL_MAGIC 0x72616e7069706531ull /* "ranpipe1" */
#define CHANNEL_VERSION 1

_Static_assert(sizeof(struct rp_msg) == 64, "a descriptor is one cache line");

struct shm_ring {
    _Alignas(64) _Atomic uint64_t head; /* next entry the producer writes */
    _Alignas(64) _Atomic uint64_t tail; /* next entry the consumer reads */
    _Alignas(64) _Atomic uint32_t sleeping; /* the consumer waits on the eventfd */
};

struct shm_header {
    uint64_t magic;
    uint32_t version;
    uint32_t slots;
    uint32_t slot_bytes;
    uint32_t pad;
    uint64_t size;
    struct shm_ring ring[2]; /* 0: requests (to the worker), 1: responses */
};

struct rp_channel {
    struct shm_header *hdr;
    struct rp_msg *entries[2];
    char *slots;
    size_t size;
    int memfd;
    int efd[2]; /* efd[r] wakes the consumer of ring r */
};

struct rp_channel_params rp_channel_default_params(void)
{
    struct rp_channel_params p = {.slots = 64, .slot_bytes = 256u << 10};
    return p;
}

static size_t layout(uint32_t slots, uint32_t slot_bytes, size_t *ring_off, size_t *slot_off)
{
    size_t hdr = (sizeof(struct shm_header) + 63) & ~(size_t)63;
    *ring_off = hdr;
    size_t rings = 2 * (size_t)slots * sizeof(struct rp_msg);
    *slot_off = (hdr + rings + 4095) & ~(size_t)4095;
    return *slot_off + (size_t)slots * slot_bytes;
}

static void bind_layout(struct rp_channel *ch)
{
    size_t ring_off, slot_off;
    layout(ch->hdr->slots, ch->hdr->slot_bytes, &ring_off, &slot_off);
    ch->entries[0] = (struct rp_msg *)((char *)ch->hdr + ring_off);
    ch->entries[1] = ch->entries[0] + ch->hdr->slots;
    ch->slots = (char *)ch->hdr + slot_off;
}

struct rp_channel *rp_channel_create(const struct rp_channel_params *p, struct rp_error *err)
{
    struct rp_channel_params d = rp_channel_default_params();
    if (!p)
        p = &d;
    if (p->slots == 0 || (p->slots & (p->slots - 1)) || p->slots > 4096 || p->slot_bytes < 4096 ||
        p->slot_bytes > (64u << 20)) {
        rp_error_set(err, RP_ERR_INVAL,
                     "channel: slots must be a power of two up to 4096, slot size 4 KiB..64 MiB");
        return NULL;
    }
    struct rp_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ch->memfd = ch->efd[0] = ch->efd[1] = -1;
    size_t ring_off, slot_off;
    ch->size = layout(p->slots, p->slot_bytes, &ring_off, &slot_off);
    ch->memfd = memfd_create("ranpipe-channel", MFD_CLOEXEC);
    if (ch->memfd < 0 || ftruncate(ch->memfd, (off_t)ch->size) != 0) {
        rp_error_set(err, RP_ERR_IO, "cannot create the shared memory for a worker: %s",
                     strerror(errno));
        goto fail;
    }
    void *mem = mmap(NULL, ch->size, PROT_READ | PROT_WRITE, MAP_SHARED, ch->memfd, 0);
    if (mem == MAP_FAILED) {
        rp_error_set(err, RP_ERR_IO, "cannot map the shared memory for a worker: %s",
                     strerror(errno));
        goto fail;
    }
    ch->hdr = mem;
    ch->hdr->magic = CHANNEL_MAGIC;
    ch->hdr->version = CHANNEL_VERSION;
    ch->hdr->slots = p->slots;
    ch->hdr->slot_bytes = p->slot_bytes;
    ch->hdr->size = ch->size;
    for (int r = 0; r < 2; r++) {
        atomic_init(&ch->hdr->ring[r].head, 0);
        atomic_init(&ch->hdr->ring[r].tail, 0);
        atomic_init(&ch->hdr->ring[r].sleeping, 0);
        ch->efd[r] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ch->efd[r] < 0) {
            rp_error_set(err, RP_ERR_IO, "cannot create an eventfd: %s", strerror(errno));
            goto fail;
        }
    }
    bind_layout(ch);
    return ch;
fail:
    rp_channel_free(ch);
    return NULL;
}

struct rp_channel *rp_channel_attach(int memfd, int req_efd, int resp_efd, struct rp_error *err)
{
    struct stat st;
    if (fstat(memfd, &st) != 0 || st.st_size < (off_t)sizeof(struct shm_header)) {
        rp_error_set(err, RP_ERR_INVAL, "channel descriptor %d is not a ranpipe channel", memfd);
        return NULL;
    }
    struct rp_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ch->size = (size_t)st.st_size;
    void *mem = mmap(NULL, ch->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED) {
        rp_error_set(err, RP_ERR_IO, "cannot map channel descriptor %d: %s", memfd, strerror(errno));
        free(ch);
        return NULL;
    }
    ch->hdr = mem;
    size_t ring_off, slot_off;
    if (ch->hdr->magic != CHANNEL_MAGIC || ch->hdr->version != CHANNEL_VERSION ||
        ch->hdr->slots == 0 || (ch->hdr->slots & (ch->hdr->slots - 1)) ||
        ch->hdr->size != ch->size ||
        layout(ch->hdr->slots, ch->hdr->slot_bytes, &ring_off, &slot_off) != ch->size) {
        rp_error_set(err, RP_ERR_INVAL, "channel descriptor %d: not a ranpipe channel of this version",
                     memfd);
        munmap(mem, ch->size);
        free(ch);
        return NULL;
    }
    ch->memfd = memfd;
    ch->efd[0] = req_efd;
    ch->efd[1] = resp_efd;
    bind_layout(ch);
    return ch;
}

void rp_channel_free(struct rp_channel *ch)
{
    if (!ch)
        return;
    if (ch->hdr)
        munmap(ch->hdr, ch->size);
    if (ch->memfd >= 0)
        close(ch->memfd);
    for (int r = 0; r < 2; r++)
        if (ch->efd[r] >= 0)
            close(ch->efd[r]);
    free(ch);
}

void rp_channel_fds(const struct rp_channel *ch, int *memfd, int *req_efd, int *resp_efd)
{
    *memfd = ch->memfd;
    *req_efd = ch->efd[0];
    *resp_efd = ch->efd[1];
}

/* The ring a side reads: the worker reads requests (0), the coordinator
 * responses (1). */
static int in_ring(bool worker)
{
    return worker ? 0 : 1;
}

int rp_channel_wait_fd(const struct rp_channel *ch, bool worker)
{
    return ch->efd[in_ring(worker)];
}

uint32_t rp_channel_slots(const struct rp_channel *ch)
{
    return ch->hdr->slots;
}

uint32_t rp_channel_slot_bytes(const struct rp_channel *ch)
{
    return ch->hdr->slot_bytes;
}

char *rp_channel_slot(struct rp_channel *ch, uint32_t i)
{
    return ch->slots + (size_t)(i & (ch->hdr->slots - 1)) * ch->hdr->slot_bytes;
}

enum rp_err rp_channel_send(struct rp_channel *ch, bool worker, const struct rp_msg *m)
{
    int r = worker ? 1 : 0;
    struct shm_ring *ring = &ch->hdr->ring[r];
    uint64_t h = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&ring->tail, memory_order_acquire);
    if (h - t >= ch->hdr->slots)
        return RP_ERR_TOOBIG;
    ch->entries[r][h & (ch->hdr->slots - 1)] = *m;
    atomic_store_explicit(&ring->head, h + 1, memory_order_seq_cst);
    if (atomic_load_explicit(&ring->sleeping, memory_order_seq_cst)) {
        uint64_t one = 1;
        ssize_t w = write(ch->efd[r], &one, sizeof(one));
        (void)w; /* EAGAIN only when the counter is saturated: already awake */
    }
    return RP_OK;
}

bool rp_channel_recv(struct rp_channel *ch, bool worker, struct rp_msg *out)
{
    int r = in_ring(worker);
    struct shm_ring *ring = &ch->hdr->ring[r];
    uint64_t t = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&ring->head, memory_order_acquire);
    if (t == h)
        return false;
    *out = ch->entries[r][t & (ch->hdr->slots - 1)];
    atomic_store_explicit(&ring->tail, t + 1, memory_order_release);
    return true;
}

static bool ring_empty(struct rp_channel *ch, int r)
{
    struct shm_ring *ring = &ch->hdr->ring[r];
    return atomic_load_explicit(&ring->tail, memory_order_relaxed) ==
           atomic_load_explicit(&ring->head, memory_order_seq_cst);
}

bool rp_channel_arm(struct rp_channel *ch, bool worker)
{
    int r = in_ring(worker);
    atomic_store_explicit(&ch->hdr->ring[r].sleeping, 1, memory_order_seq_cst);
    if (!ring_empty(ch, r)) {
        atomic_store_explicit(&ch->hdr->ring[r].sleeping, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

void rp_channel_disarm(struct rp_channel *ch, bool worker)
{
    int r = in_ring(worker);
    atomic_store_explicit(&ch->hdr->ring[r].sleeping, 0, memory_order_relaxed);
    uint64_t v;
    ssize_t n = read(ch->efd[r], &v, sizeof(v)); /* non-blocking: drain */
    (void)n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool rp_channel_wait(struct rp_channel *ch, bool worker, int spin_us, int timeout_ms)
{
    int r = in_ring(worker);
    if (!ring_empty(ch, r))
        return true;
    if (spin_us > 0) {
        uint64_t until = now_ns() + (uint64_t)spin_us * 1000u;
        do {
            for (int i = 0; i < 64; i++)
                if (!ring_empty(ch, r))
                    return true;
        } while (now_ns() < until);
    }
    if (!rp_channel_arm(ch, worker))
        return true;
    struct pollfd pfd = {.fd = ch->efd[r], .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    rp_channel_disarm(ch, worker);
    return !ring_empty(ch, r);
}
