/*
 * fuzz_entities.c - libFuzzer target for the RAN entity scanner
 * (rp_entities_find) on raw bytes: any input is valid, so besides the
 * sanitizers it checks the contract of every reported entity: entities come
 * in order of offset, each lies inside the input, its text is exactly the
 * bytes at its offset (a NUL-free C string of len bytes), and its norm is
 * set. The glossary lookup is run on the input's prefix as well.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/entities.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    const uint8_t *data;
    size_t size;
    size_t last_offset;
    size_t n;
};

static void on_entity(const struct rp_entity *e, void *ud)
{
    struct check *c = ud;
    if ((int)e->type < 0 || e->type >= RP_ENTITY__COUNT || !e->text || !e->norm)
        abort();
    if (e->len == 0 || e->offset > c->size || e->len > c->size - e->offset)
        abort();
    if (strlen(e->text) != e->len || memcmp(e->text, c->data + e->offset, e->len) != 0)
        abort();
    if (c->n && e->offset < c->last_offset)
        abort();
    if (e->expansion && !*e->expansion)
        abort();
    (void)strlen(e->norm);
    c->last_offset = e->offset;
    c->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct check c = {.data = data, .size = size};
    enum rp_err rc = rp_entities_find((const char *)data, size, on_entity, &c);
    if (rc != RP_OK && rc != RP_ERR_NOMEM)
        abort();
    (void)rp_glossary_lookup((const char *)data, size < 16 ? size : 16);
    return 0;
}
