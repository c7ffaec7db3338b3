/*
 * entities.h - RAN entities in text, and the RAN acronym glossary.
 *
 * Entity kinds (enum rp_entity_type in doc.h):
 *   parameter     MO-qualified names (EUtranCellFDD.qRxLevMin) and bare
 *                 camelCase attribute names (pZeroNominalPusch)
 *   counter       PM counters (pmRrcConnEstabSucc)
 *   spec_ref      3GPP references (TS 38.331, 3GPP TS 36.413 V16.2.0, TR 38.912)
 *   product_code  Ericsson feature / product numbers (FAJ 121 4219, CXC 401 1234)
 *   acronym       upper-case abbreviations (ANR, PUSCH), with the expansion
 *                 the document gives ("Automatic Neighbour Relations (ANR)"),
 *                 else the glossary's
 *   value         numbers with RAN units (-140 dBm, 3 dB, 10 ms, 20 MHz,
 *                 15 kHz, 100 PRB, 5 %)
 *   command       CMEDIT commands (cmedit get|set|create|delete|action ...)
 * Each has the text as written, a normalised form for matching (spacing,
 * case and the "3GPP" prefix made uniform; equal to the text where nothing
 * needs normalising; never NULL) and its position. The rules for the
 * tricky cases (ranges are not values, unknown upper-case words of six
 * letters or more are not acronyms, FDN "Class=id" pairs yield nothing,
 * ...) are listed at the top of src/ingest/entities.c.
 *
 * Input may be any bytes (invalid UTF-8 and NUL bytes included); nothing
 * is read outside text[0..len), and every reported entity's text is the
 * bytes at text[offset..offset+len) (it never contains a NUL byte).
 *
 * Thread contract: reentrant; the glossary is read-only static data.
 */
#ifndef RANPIPE_ENTITIES_H
#define RANPIPE_ENTITIES_H

#include <stddef.h>

#include "ranpipe/doc.h"
#include "ranpipe/error.h"

/* Receives one entity found by rp_entities_find(); e and its strings are
 * valid only during the call (block = -1, section = -1). */
typedef void (*rp_entity_fn)(const struct rp_entity *e, void *ud);

/* Finds entities in text[0..len) (borrowed) in order of position and hands
 * each to fn. Acronym expansions defined anywhere in this text are used,
 * else the glossary's. Allocates only when the text defines acronyms;
 * returns RP_ERR_NOMEM when that fails (fn not called), RP_ERR_INVAL for a
 * NULL fn or text. */
enum rp_err rp_entities_find(const char *text, size_t len, rp_entity_fn fn, void *ud);

/* Finds the entities of doc and appends them to doc->entities (strings
 * copied into doc's arena) in reading order: the metadata values first
 * (front matter carries feature numbers such as "feature_id: FAJ 121
 * 0814"), then each section title followed by the blocks of its section.
 * Positions: a block's text (block >= 0, section = the block's section;
 * for a table, its rendered text), a section title (block = -1, section =
 * its index), or the value of metadata entry k (block = -2 - k, section =
 * -1). An acronym defined anywhere in the document gets that expansion
 * everywhere in it. On failure (out of memory) err says so and doc keeps
 * the entities appended so far. */
enum rp_err rp_entities_scan(struct rp_doc *doc, struct rp_error *err);

/* The glossary: the expansion of a RAN acronym ("ANR", "eNB", "EN-DC"),
 * or NULL. Exact, case-sensitive match of acronym[0..len) (borrowed; need
 * not be NUL-terminated); the result is static. */
const char *rp_glossary_lookup(const char *acronym, size_t len);
/* Number of glossary entries. */
size_t rp_glossary_size(void);
/* Entry i (0 <= i < rp_glossary_size()) in sorted order: returns the
 * acronym and sets *expansion (may be NULL); NULL past the end. Static. */
const char *rp_glossary_entry(size_t i, const char **expansion);

#endif /* RANPIPE_ENTITIES_H */
