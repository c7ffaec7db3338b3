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
 * case and the "3GPP" prefix made uniform) and its position.
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

/* Finds entities in text[0..len) in order of position. Acronym expansions
 * defined in this text are used, else the glossary's. */
enum rp_err rp_entities_find(const char *text, size_t len, rp_entity_fn fn, void *ud);

/* Finds the entities of every section title and block of doc and appends
 * them to doc->entities in reading order. An acronym defined anywhere in
 * the document gets that expansion everywhere in it. */
enum rp_err rp_entities_scan(struct rp_doc *doc, struct rp_error *err);

/* The glossary: the expansion of a RAN acronym ("ANR"), or NULL. */
const char *rp_glossary_lookup(const char *acronym, size_t len);
size_t rp_glossary_size(void);

#endif /* RANPIPE_ENTITIES_H */
