/*
 * front_matter.c - YAML front-matter into document metadata (libyaml).
 *
 * Uses libyaml's event parser, which never expands aliases, so an alias
 * bomb costs nothing. Mappings nest into dotted keys ("product.release");
 * sequences of scalars become one comma-separated value; anything deeper
 * than params->max_depth is refused.
 */
#include <string.h>

#include <yaml.h>

#include "ingest_int.h"

struct fm {
    yaml_parser_t parser;
    struct rp_doc *doc;
    const struct rp_ingest_params *params;
    struct rp_error *err;
};

static enum rp_err next_event(struct fm *f, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&f->parser, ev))
        return rp_error_set(f->err, RP_ERR_PARSE, "front-matter line %zu, column %zu: %s",
                            f->parser.problem_mark.line + 2, f->parser.problem_mark.column + 1,
                            f->parser.problem ? f->parser.problem : "invalid YAML");
    return RP_OK;
}

/* Skips the rest of a collection whose start event was already consumed. */
static enum rp_err skip_collection(struct fm *f, int depth)
{
    for (;;) {
        yaml_event_t ev;
        enum rp_err e = next_event(f, &ev);
        if (e)
            return e;
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
            return RP_OK;
        if (t == YAML_STREAM_END_EVENT)
            return rp_error_set(f->err, RP_ERR_PARSE, "front-matter ends inside a collection");
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (depth + 1 > f->params->max_depth)
                return rp_error_set(f->err, RP_ERR_TOOBIG, "front-matter nested deeper than %d",
                                    f->params->max_depth);
            e = skip_collection(f, depth + 1);
            if (e)
                return e;
        }
    }
}

static enum rp_err parse_mapping(struct fm *f, const char *prefix, int depth);

/* Parses one value whose first event is ev (consumed here) for key. */
static enum rp_err parse_value(struct fm *f, yaml_event_t *ev, const char *key, int depth)
{
    enum rp_err e = RP_OK;
    if (depth > f->params->max_depth) {
        yaml_event_delete(ev);
        return rp_error_set(f->err, RP_ERR_TOOBIG, "front-matter nested deeper than %d",
                            f->params->max_depth);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (rp_doc_set_meta(f->doc, key, (const char *)ev->data.scalar.value))
            e = rp_error_set(f->err, RP_ERR_NOMEM, "out of memory");
        yaml_event_delete(ev);
        return e;
    case YAML_MAPPING_START_EVENT:
        yaml_event_delete(ev);
        return parse_mapping(f, key, depth + 1);
    case YAML_SEQUENCE_START_EVENT: {
        yaml_event_delete(ev);
        struct rp_buf joined;
        rp_buf_init(&joined, 1u << 20);
        for (;;) {
            yaml_event_t item;
            e = next_event(f, &item);
            if (e)
                break;
            if (item.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&item);
                break;
            }
            if (item.type == YAML_SCALAR_EVENT) {
                if (joined.len)
                    e = rp_buf_adds(&joined, ", ");
                if (!e)
                    e = rp_buf_adds(&joined, (const char *)item.data.scalar.value);
                yaml_event_delete(&item);
            } else if (item.type == YAML_SEQUENCE_START_EVENT ||
                       item.type == YAML_MAPPING_START_EVENT) {
                yaml_event_delete(&item);
                e = skip_collection(f, depth + 1);
            } else {
                yaml_event_delete(&item);
            }
            if (e) {
                if (f->err && f->err->code == RP_OK)
                    rp_error_set(f->err, e, "front-matter value of '%s': %s", key, rp_strerror(e));
                break;
            }
        }
        if (!e && rp_doc_set_meta(f->doc, key, joined.data))
            e = rp_error_set(f->err, RP_ERR_NOMEM, "out of memory");
        rp_buf_release(&joined);
        return e;
    }
    default:
        yaml_event_delete(ev);
        return RP_OK; /* aliases and other events carry no value we keep */
    }
}

static enum rp_err parse_mapping(struct fm *f, const char *prefix, int depth)
{
    for (;;) {
        yaml_event_t kev;
        enum rp_err e = next_event(f, &kev);
        if (e)
            return e;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return RP_OK;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            /* A complex key: skip the key and its value. */
            yaml_event_type_t t = kev.type;
            yaml_event_delete(&kev);
            if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)
                e = skip_collection(f, depth + 1);
            if (e)
                return e;
            yaml_event_t vev;
            e = next_event(f, &vev);
            if (e)
                return e;
            t = vev.type;
            yaml_event_delete(&vev);
            if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)
                e = skip_collection(f, depth + 1);
            if (e)
                return e;
            continue;
        }
        struct rp_buf key;
        rp_buf_init(&key, 4096);
        if (prefix && *prefix)
            e = rp_buf_addf(&key, "%s.", prefix);
        if (!e)
            e = rp_buf_adds(&key, (const char *)kev.data.scalar.value);
        yaml_event_delete(&kev);
        if (e) {
            rp_buf_release(&key);
            return rp_error_set(f->err, e, "front-matter key too long");
        }
        yaml_event_t vev;
        e = next_event(f, &vev);
        if (!e)
            e = parse_value(f, &vev, key.data, depth);
        rp_buf_release(&key);
        if (e)
            return e;
    }
}

enum rp_err rp__parse_front_matter(struct rp_doc *doc, const char *yaml, size_t len,
                                   const struct rp_ingest_params *params, struct rp_error *err)
{
    struct fm f = {.doc = doc, .params = params, .err = err};
    if (!yaml_parser_initialize(&f.parser))
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&f.parser, (const unsigned char *)yaml, len);
    enum rp_err e = RP_OK;
    /* stream start, document start (or stream end for empty front-matter) */
    for (;;) {
        yaml_event_t ev;
        e = next_event(&f, &ev);
        if (e)
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&ev);
            e = parse_mapping(&f, NULL, 1);
            break;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            yaml_event_delete(&ev);
            e = rp_error_set(err, RP_ERR_PARSE, "front-matter is not a mapping of keys to values");
            break;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT)
            break;
    }
    yaml_parser_delete(&f.parser);
    return e;
}
