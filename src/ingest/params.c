/*
 * params.c - parameter records (struct rp_param) from parameter tables.
 *
 * Runs after every parser, whatever the format: each table block whose
 * header names a parameter column and at least one other known column (MO
 * class, type, range, default, unit, description) gives one record per body
 * row with a parameter name. Header cells are matched loosely: case,
 * spaces and punctuation are ignored, and so is a parenthesised suffix
 * ("Range (dBm)"); each field has a few synonyms (role_names below). With
 * several header rows, a column takes the first name that matches from the
 * bottom header row up. A name written "MOClass.attribute" in a table
 * without an MO column gives both fields. Empty cells and lone dashes are
 * missing values (NULL).
 *
 * Records copy nothing: their fields are the table's cells, which the
 * table builder (or the CSV reader) has already trimmed, and a qualified
 * name's attribute is the tail of its cell. Only the MO class split off a
 * qualified name is new text, stored once for a run of rows that share it.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "ingest_int.h"

enum param_role {
    ROLE_MO,
    ROLE_NAME,
    ROLE_TYPE,
    ROLE_RANGE,
    ROLE_DEFAULT,
    ROLE_UNIT,
    ROLE_DESCRIPTION,
    ROLE__COUNT
};

/* Header names per role, normalised (lower-case letters and digits only). */
static const char *const role_names[ROLE__COUNT][8] = {
    [ROLE_MO] = {"moclass", "mo", "managedobject", "motype", "class", "managedobjectclass"},
    [ROLE_NAME] = {"parameter", "attribute", "parametername", "attributename", "name"},
    [ROLE_TYPE] = {"type", "datatype"},
    [ROLE_RANGE] = {"range", "valuerange", "allowedvalues", "values"},
    [ROLE_DEFAULT] = {"default", "defaultvalue"},
    [ROLE_UNIT] = {"unit", "units"},
    [ROLE_DESCRIPTION] = {"description", "desc", "comment", "comments"},
};

#define NORM_MAX 48
#define QUALIFIED_MO_MAX 256 /* bytes: a longer prefix before the dot is no MO class */

/* Normalises a header cell into out: letters and digits, lower-cased, up to
 * a '(' or '['. False when nothing is left or it is too long to be a name. */
static bool normalise(const char *s, char out[NORM_MAX])
{
    size_t n = 0;
    for (; *s && *s != '(' && *s != '['; s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) || c >= 0x80)
            continue;
        if (n + 1 >= NORM_MAX)
            return false;
        out[n++] = (char)tolower(c);
    }
    out[n] = '\0';
    return n > 0;
}

static int role_of(const char *header)
{
    char norm[NORM_MAX];
    if (!normalise(header, norm))
        return -1;
    for (int r = 0; r < ROLE__COUNT; r++)
        for (size_t k = 0; k < 8 && role_names[r][k]; k++)
            if (strcmp(norm, role_names[r][k]) == 0)
                return r;
    return -1;
}

/* A cell's value, or NULL for a missing one ("", "-", en or em dash). */
static const char *value(const char *cell)
{
    if (!cell || !*cell || strcmp(cell, "-") == 0 || strcmp(cell, "\xE2\x80\x93") == 0 ||
        strcmp(cell, "\xE2\x80\x94") == 0)
        return NULL;
    return cell;
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Splits "EUtranCellFDD.qRxLevMin" into its MO class and attribute. */
static bool split_qualified(const char *name, size_t *dot)
{
    const char *p = strchr(name, '.');
    if (!p || strchr(p + 1, '.'))
        return false;
    size_t left = (size_t)(p - name);
    if (!isupper((unsigned char)name[0]) || !is_ident(name, left) ||
        !isalpha((unsigned char)p[1]) || !is_ident(p + 1, strlen(p + 1)))
        return false;
    *dot = left;
    return true;
}

/* Column of each role in table t, -1 for none; returns how many roles. */
static int match_columns(const struct rp_table *t, int cols[ROLE__COUNT])
{
    for (int r = 0; r < ROLE__COUNT; r++)
        cols[r] = -1;
    size_t n_header = t->n_header ? t->n_header : 1;
    int found = 0;
    for (size_t c = 0; c < t->n_cols; c++) {
        for (size_t h = n_header; h-- > 0;) {
            int r = role_of(t->cells[h * t->n_cols + c]);
            if (r >= 0 && cols[r] < 0) {
                cols[r] = (int)c;
                found++;
                break;
            }
        }
    }
    return found;
}

static enum rp_err table_params(struct rp_doc *doc, int block, struct rp_error *err)
{
    const struct rp_table *t = doc->blocks[block].table;
    int cols[ROLE__COUNT];
    if (match_columns(t, cols) < 2 || cols[ROLE_NAME] < 0)
        return RP_OK;
    size_t first = t->n_header ? t->n_header : 1;
    const char *last_mo = NULL; /* the last MO class split off a qualified name */
    for (size_t r = first; r < t->n_rows; r++) {
        const char *const *row = t->cells + r * t->n_cols;
#define CELL(role) (cols[role] >= 0 ? value(row[cols[role]]) : NULL)
        struct rp_param p = {
            .mo_class = CELL(ROLE_MO),
            .name = CELL(ROLE_NAME),
            .type = CELL(ROLE_TYPE),
            .range = CELL(ROLE_RANGE),
            .default_value = CELL(ROLE_DEFAULT),
            .unit = CELL(ROLE_UNIT),
            .description = CELL(ROLE_DESCRIPTION),
            .block = block,
            .row = r - first,
        };
#undef CELL
        if (!p.name)
            continue;
        size_t dot;
        if (cols[ROLE_MO] < 0 && split_qualified(p.name, &dot) && dot < QUALIFIED_MO_MAX) {
            if (!last_mo || strncmp(last_mo, p.name, dot) != 0 || last_mo[dot] != '\0')
                last_mo = rp_arena_strndup(&doc->arena, p.name, dot);
            if (!last_mo)
                return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            p.mo_class = last_mo;
            p.name += dot + 1;
        }
        if (rp_doc_add_param(doc, &p))
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    return RP_OK;
}

enum rp_err rp__params_from_tables(struct rp_doc *doc, struct rp_error *err)
{
    for (size_t i = 0; i < doc->n_blocks; i++) {
        if (doc->blocks[i].type != RP_BLOCK_TABLE || !doc->blocks[i].table)
            continue;
        enum rp_err e = table_params(doc, (int)i, err);
        if (e)
            return e;
    }
    return RP_OK;
}
