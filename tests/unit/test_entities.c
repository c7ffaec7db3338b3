/*
 * test_entities.c - the RAN entity scanner and the acronym glossary
 * (include/ranpipe/entities.h).
 *
 * Most cases run rp_entities_find() on a short text and look for (or make
 * sure of the absence of) one entity by kind and text; every run also
 * checks the contract that holds for any input: entities in order of
 * offset, each inside the text and equal to the bytes at its offset. The
 * document cases go through rp_ingest_buffer()/rp_ingest_file(), so they
 * also test the hook in ingest.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/doc.h"
#include "ranpipe/entities.h"
#include "ranpipe/error.h"
#include "ranpipe/ingest.h"

/* ---- helpers ---- */

struct found {
    enum rp_entity_type type;
    char *text, *norm, *expansion;
    size_t offset, len;
};

/* What one scan found, kept until the next scan or the teardown. */
struct fixture {
    struct found *items;
    size_t n, cap;
    const char *input;
    size_t input_len;
    struct rp_doc *doc;
};

static struct fixture *fx;

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

static void clear_found(void)
{
    for (size_t i = 0; i < fx->n; i++) {
        free(fx->items[i].text);
        free(fx->items[i].norm);
        free(fx->items[i].expansion);
    }
    free(fx->items);
    fx->items = NULL;
    fx->n = fx->cap = 0;
}

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    *state = fx;
    return fx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clear_found();
    rp_doc_free(fx->doc);
    free(fx);
    fx = NULL;
    return 0;
}

/* Checks the invariants every reported entity must satisfy and keeps a copy. */
static void collect(const struct rp_entity *e, void *ud)
{
    (void)ud;
    assert_true(e->offset <= fx->input_len && e->len <= fx->input_len - e->offset);
    assert_true(e->len > 0);
    assert_int_equal(strlen(e->text), e->len);
    assert_memory_equal(e->text, fx->input + e->offset, e->len);
    assert_non_null(e->norm);
    assert_int_equal(e->block, -1);
    assert_int_equal(e->section, -1);
    assert_true((int)e->type >= 0 && e->type < RP_ENTITY__COUNT);
    if (fx->n)
        assert_true(e->offset >= fx->items[fx->n - 1].offset);
    if (fx->n == fx->cap) {
        fx->cap = fx->cap ? fx->cap * 2 : 16;
        fx->items = realloc(fx->items, fx->cap * sizeof(*fx->items));
        assert_non_null(fx->items);
    }
    struct found *f = &fx->items[fx->n++];
    f->type = e->type;
    f->text = dup_or_null(e->text);
    f->norm = dup_or_null(e->norm);
    f->expansion = dup_or_null(e->expansion);
    f->offset = e->offset;
    f->len = e->len;
}

static void scan_n(const char *text, size_t len)
{
    clear_found();
    fx->input = text;
    fx->input_len = len;
    assert_int_equal(rp_entities_find(text, len, collect, NULL), RP_OK);
}

static void scan(const char *text)
{
    scan_n(text, strlen(text));
}

/* The entity of this type and text, or NULL. */
static const struct found *find(enum rp_entity_type t, const char *text)
{
    for (size_t i = 0; i < fx->n; i++)
        if (fx->items[i].type == t && strcmp(fx->items[i].text, text) == 0)
            return &fx->items[i];
    return NULL;
}

static const struct found *has_impl(enum rp_entity_type t, const char *text, const char *file,
                                    int line)
{
    const struct found *f = find(t, text);
    if (!f) {
        fprintf(stderr, "%s:%d: no %s '%s' in:\n", file, line, rp_entity_type_name(t), text);
        for (size_t i = 0; i < fx->n; i++)
            fprintf(stderr, "  %s '%s'\n", rp_entity_type_name(fx->items[i].type),
                    fx->items[i].text);
        fail();
    }
    return f;
}
#define HAS(t, text) has_impl(t, text, __FILE__, __LINE__)

/* No entity of this type whose text contains needle. */
static void none_impl(enum rp_entity_type t, const char *needle, const char *file, int line)
{
    for (size_t i = 0; i < fx->n; i++)
        if (fx->items[i].type == t && strstr(fx->items[i].text, needle)) {
            fprintf(stderr, "%s:%d: unexpected %s '%s'\n", file, line, rp_entity_type_name(t),
                    fx->items[i].text);
            fail();
        }
}
#define NONE(t, needle) none_impl(t, needle, __FILE__, __LINE__)

static size_t count_type(enum rp_entity_type t)
{
    size_t k = 0;
    for (size_t i = 0; i < fx->n; i++)
        k += fx->items[i].type == t;
    return k;
}

/* ---- parameters ---- */

static void test_parameter_qualified(void **state)
{
    (void)state;
    scan("Set EUtranCellFDD.qRxLevMin and NRCellDU.ssbPeriodicity; also EUtranCellFDD.alpha.");
    const struct found *f = HAS(RP_ENTITY_PARAMETER, "EUtranCellFDD.qRxLevMin");
    assert_string_equal(f->norm, "EUtranCellFDD.qRxLevMin");
    assert_int_equal(f->offset, 4);
    HAS(RP_ENTITY_PARAMETER, "NRCellDU.ssbPeriodicity");
    /* An MO-qualified attribute needs no capital of its own. */
    HAS(RP_ENTITY_PARAMETER, "EUtranCellFDD.alpha");
    assert_int_equal(fx->n, 3);
}

static void test_parameter_bare(void **state)
{
    (void)state;
    scan("Raise pZeroNominalPusch, then sCellDeactivationTimer and transmitSib2.");
    HAS(RP_ENTITY_PARAMETER, "pZeroNominalPusch");
    HAS(RP_ENTITY_PARAMETER, "sCellDeactivationTimer");
    HAS(RP_ENTITY_PARAMETER, "transmitSib2");
    assert_int_equal(count_type(RP_ENTITY_PARAMETER), 3);
}

static void test_parameter_negatives(void **state)
{
    (void)state;
    /* ordinary words, short camel words, formula symbols, product names */
    scan("The Uplink interference is low. Use abcD, xyZw, delta_TF, P0_PUSCH and an iPhone.");
    assert_int_equal(count_type(RP_ENTITY_PARAMETER), 0);
    /* counters are counters; glossary terms are acronyms */
    scan("pmRrcConnEstabSucc and eNodeB and mmWave");
    assert_int_equal(count_type(RP_ENTITY_PARAMETER), 0);
    HAS(RP_ENTITY_COUNTER, "pmRrcConnEstabSucc");
    HAS(RP_ENTITY_ACRONYM, "eNodeB");
    /* URLs, e-mail addresses, file names, dotted names */
    scan("See https://example.com/docs/someCamelPath or www.ExampleSite.com/fooBarBaz, mail "
         "firstName.lastName@example.com or janeDoe@example.com; open ReleaseNotes.pdf, Node.js or "
         "config.jsonPath.");
    assert_int_equal(count_type(RP_ENTITY_PARAMETER), 0);
    assert_int_equal(count_type(RP_ENTITY_ACRONYM), 0);
    /* a class alone is no parameter */
    scan("The EUtranCellRelation and AnrFunction MOs.");
    assert_int_equal(count_type(RP_ENTITY_PARAMETER), 0);
}

static void test_fdn_yields_no_junk(void **state)
{
    (void)state;
    scan("SubNetwork=ONRM_ROOT,MeContext=ERBS01,ManagedElement=1,ENodeBFunction=1,EUtranCellFDD="
         "CELL1");
    assert_int_equal(fx->n, 0);
    scan("NRCellDU=NR01-1 administrativeState=LOCKED userLabel=\"North\"");
    assert_int_equal(fx->n, 2);
    HAS(RP_ENTITY_PARAMETER, "administrativeState");
    HAS(RP_ENTITY_PARAMETER, "userLabel");
    /* a license key as an FDN value is a product number */
    scan("ManagedElement=1,FeatureState=CXC4011319 featureState=ACTIVATED");
    assert_string_equal(HAS(RP_ENTITY_PRODUCT_CODE, "CXC4011319")->norm, "CXC 401 1319");
    HAS(RP_ENTITY_PARAMETER, "featureState");
    assert_int_equal(fx->n, 2);
}

/* ---- counters ---- */

static void test_counters(void **state)
{
    (void)state;
    scan("Check pmRrcConnEstabSucc, pmUlPowerLimitedUe and EUtranCellFDD.pmErabEstabSuccInit.");
    HAS(RP_ENTITY_COUNTER, "pmRrcConnEstabSucc");
    HAS(RP_ENTITY_COUNTER, "pmUlPowerLimitedUe");
    HAS(RP_ENTITY_COUNTER, "EUtranCellFDD.pmErabEstabSuccInit");
    assert_int_equal(fx->n, 3);
    scan("At 5 pm. the pm counters; pmx, pmabc and pmA are no counters.");
    assert_int_equal(count_type(RP_ENTITY_COUNTER), 0);
}

/* ---- spec references ---- */

static void test_spec_refs(void **state)
{
    (void)state;
    scan("See TS 38.331, TR 38.912, 3GPP TS 36.413 and 3GPP TS 36.413 V16.2.0.");
    assert_string_equal(HAS(RP_ENTITY_SPEC_REF, "TS 38.331")->norm, "TS 38.331");
    assert_string_equal(HAS(RP_ENTITY_SPEC_REF, "TR 38.912")->norm, "TR 38.912");
    assert_string_equal(HAS(RP_ENTITY_SPEC_REF, "3GPP TS 36.413")->norm, "TS 36.413");
    const struct found *v = HAS(RP_ENTITY_SPEC_REF, "3GPP TS 36.413 V16.2.0");
    assert_string_equal(v->norm, "TS 36.413 V16.2.0");
    assert_int_equal(count_type(RP_ENTITY_SPEC_REF), 4);
    /* TS/TR and 3GPP are part of the reference, not acronyms of their own */
    assert_int_equal(count_type(RP_ENTITY_ACRONYM), 0);

    scan("as in TS 36.213, section 5.1.");
    const struct found *f = HAS(RP_ENTITY_SPEC_REF, "TS 36.213");
    assert_int_equal(f->offset, 6);
    assert_int_equal(fx->n, 1);

    scan("spacing:  TS  38.101-1 and TS38.331 and ts 38.331 v16.2.0");
    assert_string_equal(HAS(RP_ENTITY_SPEC_REF, "TS  38.101-1")->norm, "TS 38.101-1");
    assert_string_equal(HAS(RP_ENTITY_SPEC_REF, "TS38.331")->norm, "TS 38.331");
    assert_int_equal(count_type(RP_ENTITY_SPEC_REF), 2);

    /* a bare number, or a malformed one, is no reference */
    scan("Version 38.331 of the spec, TS 3.331, TS 38.33 and TS 38.3311.");
    assert_int_equal(count_type(RP_ENTITY_SPEC_REF), 0);
}

/* ---- product codes ---- */

static void test_product_codes(void **state)
{
    (void)state;
    scan("Features FAJ 121 4219, CXC 401 1234, CXA 123 4567/1 and FAJ 801 0435/2; package "
         "CXP9024418/15; radio KRC 161 619/1.");
    HAS(RP_ENTITY_PRODUCT_CODE, "FAJ 121 4219");
    HAS(RP_ENTITY_PRODUCT_CODE, "CXC 401 1234");
    assert_string_equal(HAS(RP_ENTITY_PRODUCT_CODE, "CXA 123 4567/1")->norm, "CXA 123 4567/1");
    HAS(RP_ENTITY_PRODUCT_CODE, "FAJ 801 0435/2");
    assert_string_equal(HAS(RP_ENTITY_PRODUCT_CODE, "CXP9024418/15")->norm, "CXP 902 4418/15");
    HAS(RP_ENTITY_PRODUCT_CODE, "KRC 161 619/1");
    assert_int_equal(fx->n, 6);

    scan("FAJ  121   4219 and FAJ\xC2\xA0"
         "121\xC2\xA0"
         "0814");
    assert_string_equal(HAS(RP_ENTITY_PRODUCT_CODE, "FAJ  121   4219")->norm, "FAJ 121 4219");
    assert_string_equal(HAS(RP_ENTITY_PRODUCT_CODE, "FAJ\xC2\xA0"
                                                    "121\xC2\xA0"
                                                    "0814")
                            ->norm,
                        "FAJ 121 0814");

    /* class letters without a number, unknown classes, short numbers */
    scan("The FAJ number, ABC 121 4219, FAJ 12, FAJ 1214 and FAJ 121 4219X.");
    assert_int_equal(count_type(RP_ENTITY_PRODUCT_CODE), 0);
    NONE(RP_ENTITY_ACRONYM, "FAJ");
}

/* ---- acronyms ---- */

static void test_acronyms_plain_and_plural(void **state)
{
    (void)state;
    scan("The UE measures RSRP; UEs and PCIs are counted; KPIs (unknown XYZ) too.");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "UE")->expansion, "User Equipment");
    const struct found *f = HAS(RP_ENTITY_ACRONYM, "UEs");
    assert_string_equal(f->norm, "UE");
    assert_string_equal(f->expansion, "User Equipment");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "PCIs")->norm, "PCI");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "KPIs")->norm, "KPI");
    /* an unknown acronym has no expansion */
    assert_null(HAS(RP_ENTITY_ACRONYM, "XYZ")->expansion);
}

static void test_acronyms_mixed_and_hyphenated(void **state)
{
    (void)state;
    scan("The eNodeB, eNB, gNB and gNBs; gNB-DU, gNB-CU-UP, EN-DC, E-UTRAN, ng-eNB, NB-IoT; "
         "PCell, SCells, QoS, Xn and VoLTE.");
    const char *known[] = {"eNodeB", "eNB",    "gNB",   "gNB-DU", "gNB-CU-UP", "EN-DC", "E-UTRAN",
                           "ng-eNB", "NB-IoT", "PCell", "SCells", "QoS",       "Xn",    "VoLTE"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_non_null(HAS(RP_ENTITY_ACRONYM, known[i])->expansion);
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "gNBs")->norm, "gNB");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SCells")->norm, "SCell");
    /* an unknown hyphenated pair falls apart into its acronyms */
    scan("LTE-NR interworking for non-GBR bearers");
    HAS(RP_ENTITY_ACRONYM, "LTE");
    HAS(RP_ENTITY_ACRONYM, "NR");
    HAS(RP_ENTITY_ACRONYM, "GBR");
    assert_int_equal(fx->n, 3);
}

static void test_acronym_negatives(void **state)
{
    (void)state;
    /* roman numerals, units, shouted words and enum values, node names,
     * identifiers with '_', CamelCase words, single letters */
    scan("Phase II and IV. At 20 MHz and -3 dBm (MHz, dBm, GHz). NOTE: the cell is LOCKED, "
         "DISABLED or CRITICAL; ERBS01, NR01 and CELL1; NOT_ALLOWED, TDD_SPECIAL_PATTERN_1; "
         "EUtranCellFDD, Int32; A and B.");
    assert_int_equal(count_type(RP_ENTITY_ACRONYM), 0);
    /* a unit after a number is part of the value, not an acronym */
    scan("over 100 PRB");
    assert_int_equal(fx->n, 1);
    HAS(RP_ENTITY_VALUE, "100 PRB");
    /* ... but an acronym on its own */
    scan("per PRB");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "PRB")->expansion, "Physical Resource Block");
}

static void test_acronym_numbered_and_interfaces(void **state)
{
    (void)state;
    scan("SIB2 and SIB19 over X2, S1 and F1; Msg3; SIB02 is no SIB");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SIB2")->expansion, "System Information Block 2");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SIB19")->expansion, "System Information Block 19");
    HAS(RP_ENTITY_ACRONYM, "X2");
    HAS(RP_ENTITY_ACRONYM, "S1");
    HAS(RP_ENTITY_ACRONYM, "F1");
    HAS(RP_ENTITY_ACRONYM, "Msg3");
    NONE(RP_ENTITY_ACRONYM, "SIB02");
}

static void test_expansion_from_definition(void **state)
{
    (void)state;
    /* the document's definition wins over the glossary, for every
     * occurrence, before and after the definition */
    scan("ANR runs. Automatic Neighbour Relations (ANR) builds the table; later ANR removes it.");
    assert_int_equal(count_type(RP_ENTITY_ACRONYM), 3);
    for (size_t i = 0; i < fx->n; i++)
        assert_string_equal(fx->items[i].expansion, "Automatic Neighbour Relations");

    scan("the Physical Uplink Shared Channel (PUSCH) carries data");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "PUSCH")->expansion,
                        "Physical Uplink Shared Channel");

    /* reverse order, small words, hyphenated parts, lower case, plurals */
    scan("MRO (Mobility Robustness Optimisation); Quality of Service (QoS); the self-organising "
         "network (SON); E-UTRAN Cell Global Identifier (ECGI); secondary cells (SCells); "
         "Signal to Interference plus Noise Ratio (SINR); Block Error Rate (BLER).");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "MRO")->expansion,
                        "Mobility Robustness Optimisation");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "QoS")->expansion, "Quality of Service");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SON")->expansion, "self-organising network");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "ECGI")->expansion,
                        "E-UTRAN Cell Global Identifier");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SCells")->expansion, "secondary cell");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "SINR")->expansion,
                        "Signal to Interference plus Noise Ratio");
    assert_string_equal(HAS(RP_ENTITY_ACRONYM, "BLER")->expansion, "Block Error Rate");

    /* initials that do not spell the acronym define nothing: the glossary
     * (or nothing) is used */
    scan("the uplink data channel (PUSCH); the PUSCH (see below); a big network (XYZ).");
    for (size_t i = 0; i < fx->n; i++) {
        if (strcmp(fx->items[i].text, "PUSCH") == 0)
            assert_string_equal(fx->items[i].expansion, "Physical Uplink Shared Channel");
        else
            assert_null(fx->items[i].expansion);
    }
    HAS(RP_ENTITY_ACRONYM, "XYZ");
}

/* ---- values ---- */

static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *text, *norm;
    } cases[] = {
        {"-140 dBm", "-140 dBm"},
        {"3dB", "3 dB"},
        {"+3 dB", "3 dB"},
        {"10 ms", "10 ms"},
        {"20MHz", "20 MHz"},
        {"15 kHz", "15 kHz"},
        {"3.5 GHz", "3.5 GHz"},
        {"100 PRBs", "100 PRB"},
        {"5 %", "5 %"},
        {"5%", "5 %"},
        {"10 us", "10 \xC2\xB5s"},
        {"10 \xC2\xB5s", "10 \xC2\xB5s"},
        {"2 km", "2 km"},
        {"40 W", "40 W"},
        {"200 mW", "200 mW"},
        {"100 Mbps", "100 Mbps"},
        {"10 Mbit/s", "10 Mbps"},
        {"14 symbols", "14 symbols"},
        {"1 symbol", "1 symbol"},
        {"2 slots", "2 slots"},
        {"10 subframes", "10 subframes"},
        {"30 seconds", "30 s"},
        {"20 mhz", "20 MHz"},
        {"\xE2\x88\x92"
         "3 dB",
         "-3 dB"},
        {"-103\xC2\xA0"
         "dBm",
         "-103 dBm"},
        {"5 dBi", "5 dBi"},
        {"50 RB", "50 RB"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[96];
        snprintf(buf, sizeof(buf), "is %s here", cases[i].text);
        scan(buf);
        const struct found *f = HAS(RP_ENTITY_VALUE, cases[i].text);
        assert_string_equal(f->norm, cases[i].norm);
        assert_int_equal(f->offset, 3);
        assert_int_equal(fx->n, 1);
    }
}

static void test_value_negatives(void **state)
{
    (void)state;
    /* ranges are not values; numbers without units; numbers continuing
     * something; versions; units glued to letters */
    scan("Range -140..-44 dBm, 10-20 MHz, 10\xE2\x80\x93"
         "20 MHz, 10\xE2\x88\x92"
         "20 MHz, 0..100 %; "
         "-5 ... 5 dB; step 3 or 5; log10(x); "
         "v.5 dB; 1,000 ms; 16.2.0 dB; 5G and 3A; 10 msx; 20 steps; SIB2 and NR01-1 dB.");
    assert_int_equal(count_type(RP_ENTITY_VALUE), 0);
    /* a table row: the default and its unit are in different cells */
    scan("EUtranCellFDD | pZeroNominalPusch | Int32 | -126..24 | -103 | dBm");
    assert_int_equal(count_type(RP_ENTITY_VALUE), 0);
}

/* ---- commands ---- */

static void test_commands(void **state)
{
    (void)state;
    scan("Run:\ncmedit get NR01   NRCellDU.(administrativeState,operationalState)\nthen wait.");
    const struct found *c =
        HAS(RP_ENTITY_COMMAND, "cmedit get NR01   NRCellDU.(administrativeState,operationalState)");
    assert_string_equal(c->norm, "cmedit get NR01 NRCellDU.(administrativeState,operationalState)");
    assert_int_equal(c->offset, 5);
    /* the command's own parameters come after it */
    HAS(RP_ENTITY_PARAMETER, "administrativeState");
    HAS(RP_ENTITY_PARAMETER, "operationalState");
    assert_true(fx->items[0].type == RP_ENTITY_COMMAND);

    scan("Use `cmedit set NR01 NRCellDU=NR01-1 administrativeState=LOCKED` to lock it.");
    HAS(RP_ENTITY_COMMAND, "cmedit set NR01 NRCellDU=NR01-1 administrativeState=LOCKED");
    HAS(RP_ENTITY_PARAMETER, "administrativeState");
    assert_int_equal(fx->n, 2);

    scan("Lock | cmedit action NR01 Cell lock | ok");
    HAS(RP_ENTITY_COMMAND, "cmedit action NR01 Cell lock");
    scan("Read it with cmedit describe NRCellDU. Then go on.");
    HAS(RP_ENTITY_COMMAND, "cmedit describe NRCellDU");
    scan("cmedit create X and cmedit delete Y\r\n");
    HAS(RP_ENTITY_COMMAND, "cmedit create X and cmedit delete Y");
    HAS(RP_ENTITY_COMMAND, "cmedit delete Y");

    /* not commands */
    scan("cmedit is the CLI; cmedit frobnicate X; cmeditget x; the cmedit\nget");
    assert_int_equal(count_type(RP_ENTITY_COMMAND), 0);
}

/* ---- positions, order, hostile bytes ---- */

static void test_positions_and_order(void **state)
{
    (void)state;
    const char *t = "PUSCH at -103 dBm per TS 36.213 in FAJ 121 0814 with pZeroNominalPusch";
    scan(t);
    assert_int_equal(fx->n, 5);
    assert_int_equal(fx->items[0].type, RP_ENTITY_ACRONYM);
    assert_int_equal(fx->items[1].type, RP_ENTITY_VALUE);
    assert_int_equal(fx->items[1].offset, 9);
    assert_int_equal(fx->items[1].len, 8);
    assert_int_equal(fx->items[2].type, RP_ENTITY_SPEC_REF);
    assert_int_equal(fx->items[3].type, RP_ENTITY_PRODUCT_CODE);
    assert_int_equal(fx->items[4].type, RP_ENTITY_PARAMETER);
    assert_int_equal(fx->items[4].offset, strlen(t) - strlen("pZeroNominalPusch"));
    /* a length shorter than the string: nothing past it is read or found */
    scan_n(t, 7);
    assert_int_equal(fx->n, 1);
    scan_n(t, 0);
    assert_int_equal(fx->n, 0);
}

static void test_non_ascii(void **state)
{
    (void)state;
    /* curly quotes and dashes separate; foreign letters glue */
    scan("The UE\xE2\x80\x99s \xE2\x80\x9C"
         "ANR\xE2\x80\x9D feature\xE2\x80\x94"
         "PUSCH; M\xC3\xBCllerPUSCH "
         "and PUSCH\xC3\xA9.");
    HAS(RP_ENTITY_ACRONYM, "UE");
    HAS(RP_ENTITY_ACRONYM, "ANR");
    HAS(RP_ENTITY_ACRONYM, "PUSCH");
    assert_int_equal(fx->n, 3);
}

static void test_invalid_utf8_and_random_bytes(void **state)
{
    (void)state;
    /* Invalid bytes are word bytes: what they touch is one foreign word,
     * what is separated from them by a space is found as usual. */
    static const char bad[] = "\xff\xfe PUSCH \xc3 -3 dB \xe2\x80 TS 38.331 \xe2 FAJ 121 4219 \xc2"
                              " cmedit get x\x00y z \xce pmAbcDef\xf0\x9f PRACH\xbf SINR";
    scan_n(bad, sizeof(bad) - 1);
    HAS(RP_ENTITY_ACRONYM, "PUSCH");
    HAS(RP_ENTITY_VALUE, "-3 dB");
    HAS(RP_ENTITY_SPEC_REF, "TS 38.331");
    HAS(RP_ENTITY_PRODUCT_CODE, "FAJ 121 4219");
    HAS(RP_ENTITY_COMMAND, "cmedit get x");
    HAS(RP_ENTITY_ACRONYM, "SINR");
    NONE(RP_ENTITY_COUNTER, "pmAbcDef");
    NONE(RP_ENTITY_ACRONYM, "PRACH");
    /* random bytes, and random bytes drawn from the characters that
     * matter, any length: collect() checks every entity */
    static const char alphabet[] =
        "aApPmMsS0123456789 .-+_=,()|`%/:@\n\xc2\xa0\xb5\xe2\x80\x93\x88\x92"
        "TSRFAJCXdBHzkcmedit";
    unsigned seed = 12345;
    char *buf = malloc(4096);
    assert_non_null(buf);
    for (int round = 0; round < 400; round++) {
        size_t len = (size_t)(round * 37 % 4096);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            buf[i] = round % 2 ? (char)(r & 0xff) : alphabet[r % (sizeof(alphabet) - 1)];
        }
        scan_n(buf, len);
    }
    free(buf);
}

static void test_null_and_empty(void **state)
{
    (void)state;
    assert_int_equal(rp_entities_find(NULL, 0, collect, NULL), RP_OK);
    assert_int_equal(rp_entities_find(NULL, 3, collect, NULL), RP_ERR_INVAL);
    assert_int_equal(rp_entities_find("x", 1, NULL, NULL), RP_ERR_INVAL);
}

/* ---- documents ---- */

static const struct rp_entity *doc_find(const struct rp_doc *doc, enum rp_entity_type t,
                                        const char *text)
{
    for (size_t i = 0; i < doc->n_entities; i++)
        if (doc->entities[i].type == t && strcmp(doc->entities[i].text, text) == 0)
            return &doc->entities[i];
    return NULL;
}

/* The string an entity of doc was found in. */
static const char *entity_source(const struct rp_doc *doc, const struct rp_entity *e)
{
    if (e->block >= 0) {
        assert_true((size_t)e->block < doc->n_blocks);
        assert_int_equal(e->section, doc->blocks[e->block].section);
        return doc->blocks[e->block].text;
    }
    if (e->block == -1) {
        assert_true(e->section >= 0 && (size_t)e->section < doc->n_sections);
        return doc->sections[e->section].title;
    }
    size_t k = (size_t)(-2 - e->block);
    assert_true(k < doc->n_meta);
    assert_int_equal(e->section, -1);
    return doc->meta[k].value;
}

static void check_doc_positions(const struct rp_doc *doc)
{
    for (size_t i = 0; i < doc->n_entities; i++) {
        const struct rp_entity *e = &doc->entities[i];
        const char *src = entity_source(doc, e);
        assert_true(e->offset + e->len <= strlen(src));
        assert_memory_equal(src + e->offset, e->text, e->len);
    }
}

static void test_scan_example_document(void **state)
{
    (void)state;
    const char *dir = getenv("RANPIPE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/examples/docs/features/uplink-power-control.md", dir ? dir : ".");
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_ingest_file(path, NULL, &fx->doc, &err) != RP_OK)
        fail_msg("%s", err.msg);
    const struct rp_doc *doc = fx->doc;
    assert_true(doc->n_entities > 20);
    check_doc_positions(doc);
    assert_non_null(doc_find(doc, RP_ENTITY_PARAMETER, "pZeroNominalPusch"));
    assert_non_null(doc_find(doc, RP_ENTITY_PARAMETER, "EUtranCellFDD.pZeroNominalPusch"));
    assert_non_null(doc_find(doc, RP_ENTITY_COUNTER, "pmUlPowerLimitedUe"));
    const struct rp_entity *ts = doc_find(doc, RP_ENTITY_SPEC_REF, "3GPP TS 36.213");
    assert_non_null(ts);
    assert_string_equal(ts->norm, "TS 36.213");
    /* the feature number is in the front matter */
    const struct rp_entity *faj = doc_find(doc, RP_ENTITY_PRODUCT_CODE, "FAJ 121 0814");
    assert_non_null(faj);
    assert_true(faj->block <= -2);
    assert_string_equal(doc->meta[-2 - faj->block].key, "feature_id");
    assert_non_null(doc_find(doc, RP_ENTITY_VALUE, "-103 dBm"));
    const struct rp_entity *cmd = NULL;
    for (size_t i = 0; i < doc->n_entities; i++)
        if (doc->entities[i].type == RP_ENTITY_COMMAND)
            cmd = &doc->entities[i];
    assert_non_null(cmd);
    assert_true(strncmp(cmd->text, "cmedit get SubNetwork=ONRM_ROOT,", 32) == 0);
    assert_non_null(strstr(cmd->text, "EUtranCellFDD.pZeroNominalPusch"));
    /* every PUSCH, including those in the front matter and the table, has
     * the document's own expansion */
    size_t n_pusch = 0;
    for (size_t i = 0; i < doc->n_entities; i++) {
        const struct rp_entity *e = &doc->entities[i];
        if (e->type == RP_ENTITY_ACRONYM && strcmp(e->norm, "PUSCH") == 0) {
            assert_non_null(e->expansion);
            assert_string_equal(e->expansion, "Physical Uplink Shared Channel");
            n_pusch++;
        }
    }
    assert_true(n_pusch >= 5);
    /* the heading's acronym belongs to the title (block -1) */
    const struct rp_entity *lte = NULL;
    for (size_t i = 0; i < doc->n_entities && !lte; i++)
        if (doc->entities[i].block == -1 && strcmp(doc->entities[i].text, "LTE") == 0)
            lte = &doc->entities[i];
    assert_non_null(lte);
    assert_string_equal(doc->sections[lte->section].title, "Uplink Power Control for LTE");
}

static void test_scan_definitions_across_blocks(void **state)
{
    (void)state;
    const char *md =
        "# The SON Feature\n\nThe SON works.\n\n## Later\n\nA self-organising network (SON) "
        "plans itself.\n\n| Name | Unit |\n|---|---|\n| SON | - |\n";
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_ingest_buffer("doc.md", RP_FORMAT_MARKDOWN, md, strlen(md), NULL, &fx->doc, &err))
        fail_msg("%s", err.msg);
    const struct rp_doc *doc = fx->doc;
    check_doc_positions(doc);
    /* reading order: the title of section 1, block 0 (in section 1), then
     * blocks 1 and 2 (section 2, whose title has no SON) */
    static const int blocks[] = {-1, 0, 1, 2};
    assert_int_equal(doc->n_entities, 4);
    for (size_t i = 0; i < doc->n_entities; i++) {
        const struct rp_entity *e = &doc->entities[i];
        assert_string_equal(e->text, "SON");
        assert_string_equal(e->expansion, "self-organising network");
        assert_int_equal(e->block, blocks[i]);
    }
    assert_int_equal(doc->entities[0].section, 1);
}

/* ---- glossary ---- */

static void test_glossary(void **state)
{
    (void)state;
    size_t n = rp_glossary_size();
    assert_true(n >= 250);
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *exp = NULL;
        const char *a = rp_glossary_entry(i, &exp);
        assert_non_null(a);
        assert_non_null(exp);
        assert_true(exp[0] != '\0');
        if (prev)
            assert_true(strcmp(prev, a) < 0); /* sorted, no duplicates */
        assert_ptr_equal(rp_glossary_lookup(a, strlen(a)), exp);
        prev = a;
    }
    assert_null(rp_glossary_entry(n, NULL));
    const char *areas[] = {"PUSCH", "PDCCH", "PRACH", "PBCH",  "RRC",   "NAS",   "S1",     "X2",
                           "Xn",    "NG",    "F1",    "E1",    "eNB",   "gNB",   "gNB-CU", "gNB-DU",
                           "AMF",   "MME",   "UPF",   "RSRP",  "RSRQ",  "SINR",  "CQI",    "BLER",
                           "ANR",   "MRO",   "MLB",   "CCO",   "MO",    "FDN",   "ENM",    "CM",
                           "PM",    "FM",    "CA",    "PCell", "SCell", "EN-DC", "NSA",    "SA"};
    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
        if (!rp_glossary_lookup(areas[i], strlen(areas[i])))
            fail_msg("'%s' is not in the glossary", areas[i]);
    assert_string_equal(rp_glossary_lookup("ANRxyz", 3), "Automatic Neighbour Relations");
    assert_null(rp_glossary_lookup("ENB", 3)); /* case-sensitive */
    assert_null(rp_glossary_lookup("PUSC", 4));
    assert_null(rp_glossary_lookup("PUSCHX", 6));
    assert_null(rp_glossary_lookup("", 0));
    assert_null(rp_glossary_lookup("A\0"
                                   "1",
                                   3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parameter_qualified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameter_bare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameter_negatives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fdn_yields_no_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_product_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acronyms_plain_and_plural, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acronyms_mixed_and_hyphenated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acronym_negatives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acronym_numbered_and_interfaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expansion_from_definition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_negatives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_ascii, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_and_random_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_example_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_definitions_across_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_glossary, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
