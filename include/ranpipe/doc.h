/*
 * doc.h - the document model every parser fills.
 *
 * A document is a title, metadata (key/value strings: YAML front-matter,
 * document properties), a tree of sections, and a flat list of blocks in
 * reading order. Each block belongs to one section; each section has a parent
 * (index, -1 for top level), so the heading path of any block can be walked
 * upwards. Section 0 always exists: the untitled preamble before the first
 * heading (level 0).
 *
 * Parsers also fill parameter records (rows of parameter tables) and the
 * entity scanner (entities.h) fills RAN entities with their positions.
 *
 * All strings and tables of a document live in its arena; the section,
 * block, metadata, parameter and entity arrays are malloc'd vectors owned
 * by the document.
 * rp_doc_free() frees everything at once.
 *
 * Thread contract: a document belongs to one thread at a time.
 */
#ifndef RANPIPE_DOC_H
#define RANPIPE_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

enum rp_block_type {
    RP_BLOCK_PARAGRAPH,
    RP_BLOCK_TABLE,
    RP_BLOCK_LIST,
    RP_BLOCK_CODE,
};

/* A table: n_rows x n_cols cells in row-major order; the first n_header
 * rows are header rows. Cells are never NULL (empty string for a gap). */
struct rp_table {
    size_t n_rows;
    size_t n_cols;
    size_t n_header;
    const char **cells;
};

struct rp_block {
    enum rp_block_type type;
    int section;        /* index into doc->sections */
    const char *text;   /* paragraph/code text; list items joined by "\n"; table as plain text */
    struct rp_table *table; /* RP_BLOCK_TABLE only */
    size_t line;        /* 1-based source line where known, 0 otherwise */
    int page;           /* 1-based page for paginated formats, 0 otherwise */
};

struct rp_section {
    const char *title; /* "" for the preamble */
    int level;         /* 0 for the preamble, 1.. for headings */
    int parent;        /* index of the enclosing section, -1 for none */
    size_t line;
};

struct rp_meta {
    const char *key;
    const char *value;
};

enum rp_doc_format {
    RP_FORMAT_UNKNOWN,
    RP_FORMAT_MARKDOWN,
    RP_FORMAT_TEXT,
    RP_FORMAT_HTML,
    RP_FORMAT_CSV,
    RP_FORMAT_DOCX,
    RP_FORMAT_PDF,
    RP_FORMAT_ZIP, /* a container: its members become documents of their own */
};

/* A parameter record: one row of a parameter table (CSV, or any table whose
 * header names these columns), with the fields matched by header name.
 * Missing fields are NULL. The fields are the table's own cell strings,
 * not copies (an MO class split off a qualified name is the exception). */
struct rp_param {
    const char *mo_class;    /* "EUtranCellFDD" */
    const char *name;        /* "qRxLevMin" */
    const char *type;        /* "Int32" */
    const char *range;       /* "-140..-44" */
    const char *default_value;
    const char *unit;        /* "dBm" */
    const char *description;
    int block;               /* the table block the row came from */
    size_t row;              /* body row within that table (0-based) */
};

enum rp_entity_type {
    RP_ENTITY_PARAMETER,    /* EUtranCellFDD.qRxLevMin, or a camelCase attribute name */
    RP_ENTITY_COUNTER,      /* pmRrcConnEstabSucc */
    RP_ENTITY_SPEC_REF,     /* TS 38.331, 3GPP TS 36.413 V16.2.0 */
    RP_ENTITY_PRODUCT_CODE, /* FAJ 121 4219, CXC 401 1234 */
    RP_ENTITY_ACRONYM,      /* ANR (expansion when defined or in the glossary) */
    RP_ENTITY_VALUE,        /* -140 dBm, 20 MHz, 10 ms, 100 PRB, 5 % */
    RP_ENTITY_COMMAND,      /* cmedit get ... */
    RP_ENTITY__COUNT
};

/* A RAN entity found in the text of a block (block >= 0), a section title
 * (block == -1, section set) or the value of metadata entry k (block ==
 * -2 - k, section == -1). offset/len locate it in that text. */
struct rp_entity {
    const char *text;      /* as written */
    const char *norm;      /* normalised form used for matching (e.g. "TS 38.331") */
    const char *expansion; /* acronyms: the expansion, else NULL */
    enum rp_entity_type type;
    int32_t block;
    int32_t section;
    uint32_t offset, len;  /* documents are far below 4 GiB (ingest caps them) */
};

struct rp_doc {
    struct rp_arena arena;
    const char *path; /* as given to the parser */
    enum rp_doc_format format;
    const char *title; /* from metadata, the first level-1 heading, or the file name */
    struct rp_meta *meta;
    size_t n_meta, cap_meta;
    struct rp_section *sections;
    size_t n_sections, cap_sections;
    struct rp_block *blocks;
    size_t n_blocks, cap_blocks;
    struct rp_param *params;
    size_t n_params, cap_params;
    struct rp_entity *entities;
    size_t n_entities, cap_entities;
    struct rp__strset *expansions; /* private: entity expansions, stored once each */
};

/* Returns a new empty document for path (copied) with its preamble section,
 * or NULL when out of memory. Free with rp_doc_free(). */
struct rp_doc *rp_doc_new(const char *path, enum rp_doc_format format);
/* Frees the document and everything in its arena; NULL is a no-op. */
void rp_doc_free(struct rp_doc *doc);

/* Adds a section under the nearest open section of lower level; title is
 * copied. Returns its index, or -1 when out of memory. */
int rp_doc_add_section(struct rp_doc *doc, const char *title, size_t title_len, int level,
                       size_t line);
/* Appends a block to the last section; text is copied. Returns the block
 * (owned by doc, valid until the next add) or NULL when out of memory. */
struct rp_block *rp_doc_add_block(struct rp_doc *doc, enum rp_block_type type, const char *text,
                                  size_t text_len, size_t line);
/* Sets (replaces) a metadata value; key and value are copied. */
enum rp_err rp_doc_set_meta(struct rp_doc *doc, const char *key, const char *value);
/* Returns the metadata value for key, or NULL. */
const char *rp_doc_get_meta(const struct rp_doc *doc, const char *key);

/* Collects the cells of a table row by row before it is added to a
 * document; rows may be ragged (short rows are padded with ""). */
struct rp_table_builder {
    char **cells;     /* malloc'd copies */
    size_t *row_len;  /* cells in each row */
    size_t n_cells, cap_cells;
    size_t n_rows, cap_rows;
    size_t cur_row_len;
    size_t n_header;  /* set by the parser */
};

void rp_table_builder_init(struct rp_table_builder *tb);
void rp_table_builder_release(struct rp_table_builder *tb);
/* Adds a cell (copied, trimmed of surrounding whitespace) to the current row. */
enum rp_err rp_table_builder_cell(struct rp_table_builder *tb, const char *s, size_t n);
/* Ends the current row; an empty row is ignored. */
enum rp_err rp_table_builder_end_row(struct rp_table_builder *tb);
/* Copies the table into doc as a RP_BLOCK_TABLE block (text = rendered
 * table) and leaves the builder empty. Returns the block or NULL when out of
 * memory or when the table has no rows. */
struct rp_block *rp_doc_add_table(struct rp_doc *doc, struct rp_table_builder *tb, size_t line);

/* Appends a parameter record. Its strings are not copied: each must be
 * NULL, static, or owned by doc's arena (normally the cells of the table
 * the record was read from), and stays valid as long as doc. */
enum rp_err rp_doc_add_param(struct rp_doc *doc, const struct rp_param *p);
/* Appends an entity. text is copied; norm is copied unless it equals text
 * (then it shares text's copy); expansion is stored once per document
 * however many entities carry it. */
enum rp_err rp_doc_add_entity(struct rp_doc *doc, const struct rp_entity *e);

/* Fills out with the heading path of section s, " > "-separated, outermost
 * first ("" for the preamble). */
enum rp_err rp_doc_heading_path(const struct rp_doc *doc, int s, struct rp_buf *out);

/* Renders a table as pipe-separated lines (header, then rows) into out. */
enum rp_err rp_table_render(const struct rp_table *t, size_t first_row, size_t n_rows,
                            struct rp_buf *out);

const char *rp_doc_format_name(enum rp_doc_format f);
const char *rp_block_type_name(enum rp_block_type t);
const char *rp_entity_type_name(enum rp_entity_type t);

#endif /* RANPIPE_DOC_H */
