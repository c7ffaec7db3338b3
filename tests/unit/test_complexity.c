/*
 * test_complexity.c - chunk and document complexity
 * (include/ranpipe/complexity.h).
 *
 * Chunks are built by hand from texts written for these tests, with token
 * counts from rp_token_estimate() as the chunker would give them, so each
 * feature can be checked against what the text obviously holds; one case
 * runs the real chunker on a Markdown document.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/chunk.h"
#include "ranpipe/complexity.h"
#include "ranpipe/doc.h"
#include "ranpipe/ingest.h"

/* A short plain definition. */
static const char DEFINITION[] =
    "Automatic Neighbour Relations (ANR) is a SON function that adds missing neighbour relations "
    "and removes unused ones, so that operators need not plan them by hand.";

/* A parameter table with MO-qualified names, values and units. */
static const char TABLE[] =
    "Parameter | Range | Default | Description\n"
    "EUtranCellFDD.qRxLevMin | -140..-44 | -140 dBm | Minimum RX level for cell selection.\n"
    "EUtranCellFDD.pZeroNominalPusch | -126..24 | -103 dBm | Nominal PUSCH power per PRB.\n"
    "EUtranCellFDD.sinrTargetPusch | -10..30 | 10 dB | Target SINR of the closed loop.\n"
    "NRCellDU.ssbPeriodicity | 5..160 | 20 ms | SSB burst period.\n"
    "NRCellDU.ssbSubCarrierSpacing | 15..240 | 30 kHz | SSB subcarrier spacing.\n"
    "NRCellDU.bandwidthDl | 5..100 | 100 MHz | Downlink channel bandwidth.";

/* A long procedure with commands and counters. */
static const char PROCEDURE[] =
    "This procedure takes an NR cell out of service for planned maintenance and puts it back into "
    "service afterwards. Locking the cell releases every connected UE; the UEs are handed over to "
    "neighbouring cells where coverage allows, otherwise they re-establish their connection once "
    "the "
    "cell is unlocked again. Agree a maintenance window with the operations centre first, and make "
    "sure that the operator account has the Cell_Administrator role in ENM.\n"
    "1. Read the current state of the cell and write it down:\n"
    "   cmedit get NR01 NRCellDU.(administrativeState,operationalState)\n"
    "2. Set the administrative state to LOCKED:\n"
    "   cmedit set NR01 NRCellDU=NR01-1 administrativeState=LOCKED\n"
    "3. Wait until operationalState is DISABLED; this normally takes less than 30 seconds. If it "
    "takes longer, look for alarms on the node before going on.\n"
    "4. Check that the counter pmRrcConnEstabSucc stops increasing for the cell, and that "
    "pmRrcConnEstabAtt stays at zero while the cell is locked.\n"
    "5. Do the maintenance work. When it is done, set the administrative state back to UNLOCKED:\n"
    "   cmedit set NR01 NRCellDU=NR01-1 administrativeState=UNLOCKED\n"
    "6. Confirm that operationalState returns to ENABLED within 60 seconds, that "
    "pmRrcConnEstabSucc increases again and that the alarm list of the node is clear. If the cell "
    "stays disabled, check the SSB configuration (ssbFrequency, ssbPeriodicity) and the alarm "
    "Resource Configuration Failure before you call support.";

static struct rp_chunk make_chunk(const char *text, const char *path)
{
    struct rp_chunk c;
    memset(&c, 0, sizeof(c));
    c.text = text;
    c.heading_path = path;
    c.n_tokens = rp_token_estimate(text, strlen(text));
    return c;
}

static struct rp_complexity measure(const struct rp_chunk *c, const struct rp_complexity_params *p)
{
    struct rp_complexity cx;
    rp_complexity_chunk(NULL, c, p, &cx);
    assert_true(cx.score >= 0.0f && cx.score <= 1.0f);
    return cx;
}

static void test_ordering(void **state)
{
    (void)state;
    struct rp_complexity_params p = rp_complexity_default_params();
    struct rp_chunk def = make_chunk(DEFINITION, "Automatic Neighbour Relations > Overview");
    struct rp_chunk tab = make_chunk(TABLE, "Uplink Power Control > Parameters");
    struct rp_chunk proc =
        make_chunk(PROCEDURE, "Cell Maintenance > Procedure > Lock and Unlock the Cell");
    struct rp_complexity d = measure(&def, &p), t = measure(&tab, &p), r = measure(&proc, &p);
    printf("# definition %.3f (%zu tokens), table %.3f (%zu tokens), procedure %.3f (%zu tokens)\n",
           d.score, d.tokens, t.score, t.tokens, r.score, r.tokens);
    assert_true(d.score < 0.3f);
    assert_true(t.score > 0.6f);
    /* in between, and clearly apart from both */
    assert_true(r.score > d.score + 0.1f && r.score < t.score - 0.1f);
}

static void test_features(void **state)
{
    (void)state;
    struct rp_chunk tab = make_chunk(TABLE, "Uplink Power Control > Parameters");
    struct rp_complexity t = measure(&tab, NULL); /* NULL: the defaults */
    assert_int_equal(t.tokens, tab.n_tokens);
    /* six MO.attribute names, six values with units, no counters */
    float per100 = 100.0f / (float)t.tokens;
    assert_float_equal(t.param_density, 6 * per100, 1e-4);
    assert_float_equal(t.numeric_density, 6 * per100, 1e-4);
    assert_float_equal(t.counter_density, 0.0f, 1e-6);
    assert_true(t.term_density > 0.0f); /* RX, PUSCH, PRB, SINR, SSB */
    assert_float_equal(t.table_share, 1.0f, 1e-6);
    assert_int_equal(t.depth, 2);
    assert_true(t.domain > 0.2f && t.domain < 1.0f);

    struct rp_chunk proc = make_chunk(PROCEDURE, "A > B > C");
    struct rp_complexity r = measure(&proc, NULL);
    per100 = 100.0f / (float)r.tokens;
    assert_float_equal(r.counter_density, 3 * per100, 1e-4);
    assert_float_equal(r.numeric_density, 2 * per100, 1e-4); /* 30 and 60 seconds */
    assert_float_equal(r.table_share, 0.0f, 1e-6);
    assert_int_equal(r.depth, 3);

    struct rp_chunk def = make_chunk(DEFINITION, "");
    struct rp_complexity d = measure(&def, NULL);
    assert_int_equal(d.depth, 0); /* the preamble */
    assert_float_equal(d.param_density, 0.0f, 1e-6);
    assert_float_equal(d.term_density, 2 * 100.0f / (float)d.tokens, 1e-4); /* ANR, SON */
}

static void test_table_share_and_domain(void **state)
{
    (void)state;
    /* two table lines of 9 bytes, two prose lines of 9 bytes */
    struct rp_chunk c = make_chunk("a | b | c\nprose one\nd | e | f\nprose two", "X");
    struct rp_complexity x = measure(&c, NULL);
    assert_float_equal(x.table_share, 0.5f, 1e-6);
    assert_float_equal(x.domain, 0.0f, 1e-6);
    /* every word is inside an entity */
    c = make_chunk("PUSCH PUCCH -140 dBm", "X");
    x = measure(&c, NULL);
    assert_float_equal(x.domain, 1.0f, 1e-6);
    /* nested entities (a command and its parameter) count each word once */
    c = make_chunk("cmedit get X EUtranCellFDD.qRxLevMin\nplain words here", "X");
    x = measure(&c, NULL);
    assert_float_equal(x.domain, 5.0f / 8.0f, 1e-6);
    /* empty text, no tokens */
    c = make_chunk("", "");
    x = measure(&c, NULL);
    assert_int_equal(x.tokens, 0);
    assert_float_equal(x.score, 0.0f, 1e-6);
}

static void test_weights(void **state)
{
    (void)state;
    struct rp_chunk tab = make_chunk(TABLE, "Uplink Power Control > Parameters");
    struct rp_chunk def = make_chunk(DEFINITION, "Automatic Neighbour Relations > Overview");
    struct rp_complexity_params p;
    memset(&p, 0, sizeof(p));
    p.length_norm_tokens = 384;
    p.density_norm = 4.0f;
    p.depth_norm = 4;

    /* no weight: score 0 */
    assert_float_equal(measure(&tab, &p).score, 0.0f, 1e-6);
    /* one weight: the score is that feature */
    p.w_tables = 2.5f;
    assert_float_equal(measure(&tab, &p).score, 1.0f, 1e-6);
    assert_float_equal(measure(&def, &p).score, 0.0f, 1e-6);
    p.w_tables = 0.0f;
    p.w_length = 1.0f;
    struct rp_complexity t = measure(&tab, &p);
    assert_float_equal(t.score, (float)t.tokens / 384.0f, 1e-5);
    p.w_length = 0.0f;
    p.w_depth = 1.0f;
    assert_float_equal(measure(&tab, &p).score, 0.5f, 1e-6);
    p.depth_norm = 1;
    assert_float_equal(measure(&tab, &p).score, 1.0f, 1e-6); /* capped */
    p.depth_norm = 4;
    /* negative weights count as 0 */
    p.w_params = -5.0f;
    assert_float_equal(measure(&tab, &p).score, 0.5f, 1e-6);

    /* weighting a feature the table has more of raises its score; one it
     * lacks lowers it */
    struct rp_complexity_params d = rp_complexity_default_params();
    float base = measure(&tab, &d).score;
    struct rp_complexity_params more = d;
    more.w_params *= 3.0f;
    assert_true(measure(&tab, &more).score > base);
    struct rp_complexity_params cnt = d;
    cnt.w_counters *= 5.0f;
    assert_true(measure(&tab, &cnt).score < base);
    /* a lower normaliser saturates densities sooner */
    struct rp_chunk proc = make_chunk(PROCEDURE, "A > B > C");
    struct rp_complexity_params dn = d;
    dn.density_norm = 1.0f;
    assert_true(measure(&proc, &dn).score > measure(&proc, &d).score);
}

static void test_doc_is_token_weighted_mean(void **state)
{
    (void)state;
    struct rp_chunk items[3] = {
        make_chunk(DEFINITION, "A"),
        make_chunk(TABLE, "A > B"),
        make_chunk(PROCEDURE, "A > B > C"),
    };
    struct rp_chunk_list list;
    memset(&list, 0, sizeof(list));
    list.items = items;
    list.n = 3;
    struct rp_complexity_params p = rp_complexity_default_params();
    struct rp_complexity c[3], doc;
    double tot = 0, score = 0, par = 0, dom = 0, dep = 0;
    for (int i = 0; i < 3; i++) {
        rp_complexity_chunk(NULL, &items[i], &p, &c[i]);
        tot += (double)c[i].tokens;
        score += (double)c[i].tokens * c[i].score;
        par += (double)c[i].tokens * c[i].param_density;
        dom += (double)c[i].tokens * c[i].domain;
        dep += (double)c[i].tokens * c[i].depth;
    }
    rp_complexity_doc(NULL, &list, &p, &doc);
    assert_int_equal(doc.tokens, (size_t)tot);
    assert_float_equal(doc.score, score / tot, 1e-5);
    assert_float_equal(doc.param_density, par / tot, 1e-4);
    assert_float_equal(doc.domain, dom / tot, 1e-5);
    assert_int_equal(doc.depth, (int)lround(dep / tot));
    /* not the plain mean: the long procedure weighs more than the short
     * definition */
    double plain = (c[0].score + c[1].score + c[2].score) / 3.0;
    assert_true(fabs(doc.score - plain) > 1e-3);

    /* one chunk: its own figures */
    list.n = 1;
    rp_complexity_doc(NULL, &list, &p, &doc);
    assert_float_equal(doc.score, c[0].score, 1e-6);
    /* no chunks: zero */
    list.n = 0;
    rp_complexity_doc(NULL, &list, &p, &doc);
    assert_int_equal(doc.tokens, 0);
    assert_float_equal(doc.score, 0.0f, 1e-6);
}

static void test_real_document(void **state)
{
    (void)state;
    const char *md = "# Uplink Power Control\n\n"
                     "Uplink power control sets the UE transmit power.\n\n"
                     "## Parameters\n\n"
                     "| Parameter | Default |\n|---|---|\n"
                     "| EUtranCellFDD.pZeroNominalPusch | -103 dBm |\n"
                     "| EUtranCellFDD.qRxLevMin | -140 dBm |\n";
    struct rp_doc *doc = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_ingest_buffer("d.md", RP_FORMAT_MARKDOWN, md, strlen(md), NULL, &doc, &err),
                     RP_OK);
    struct rp_chunk_list list;
    rp_chunk_list_init(&list);
    struct rp_chunk_params cp = rp_chunk_default_params();
    cp.min_tokens = 1;
    assert_int_equal(rp_chunk_doc(doc, &cp, NULL, NULL, &list, &err), RP_OK);
    assert_int_equal(list.n, 2);
    struct rp_complexity a, b, d;
    rp_complexity_chunk(doc, &list.items[0], NULL, &a);
    rp_complexity_chunk(doc, &list.items[1], NULL, &b);
    rp_complexity_doc(doc, &list, NULL, &d);
    assert_int_equal(a.depth, 1);
    assert_int_equal(b.depth, 2);
    assert_true(b.table_share > 0.99f);
    assert_true(b.score > a.score);
    assert_true(d.score > a.score && d.score < b.score);
    rp_chunk_list_release(&list);
    rp_doc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_table_share_and_domain),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_doc_is_token_weighted_mean),
        cmocka_unit_test(test_real_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
