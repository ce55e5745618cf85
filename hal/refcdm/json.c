/*
 * A minimal, strict, bounded JSON parser (RFC 8259) and writer.
 *
 * Hand-written rather than vendored: the CDM only reads small documents (licenses, key-id lists,
 * control commands) and needs strictness that permissive tokenizers such as jsmn lack (UTF-8
 * validation, escape validation, number grammar, duplicate-member detection, a depth limit).
 * Values are recorded as a flat token array (like jsmn) with each token's subtree end, so lookups
 * never recurse.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

#define JSON_MAX_DEPTH 32
#define JSON_MAX_INPUT (1u << 20)

typedef struct {
    rc_json* j;
    size_t pos;
    int depth;
} parser;

static int push(parser* p, uint8_t type, uint32_t start) {
    rc_json* j = p->j;
    if (j->n == j->cap) {
        uint32_t ncap = j->cap ? j->cap * 2 : 32;
        if (ncap > j->len + 1) ncap = (uint32_t)j->len + 1; /* every token uses >= 1 byte */
        if (ncap <= j->n) return -1;
        rc_jtok* nt = realloc(j->t, (size_t)ncap * sizeof *nt);
        if (!nt) return -1;
        j->t = nt;
        j->cap = ncap;
    }
    rc_jtok* t = &j->t[j->n];
    t->type = type;
    t->start = start;
    t->end = start;
    t->size = 0;
    t->next = 0;
    return (int)j->n++;
}

static void skip_ws(parser* p) {
    const char* s = p->j->src;
    while (p->pos < p->j->len &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
}

/* Validates one UTF-8 sequence at p->pos (first byte >= 0x80); advances. */
static int utf8_seq(parser* p) {
    const unsigned char* s = (const unsigned char*)p->j->src;
    size_t n = p->j->len;
    unsigned c = s[p->pos];
    int k;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 1;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 2;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 3;
        min = 0x10000;
    } else {
        return -1;
    }
    if (p->pos + (size_t)k >= n) return -1;
    unsigned cp = c & (k == 1 ? 0x1F : k == 2 ? 0x0F : 0x07);
    for (int i = 1; i <= k; i++) {
        unsigned cc = s[p->pos + (size_t)i];
        if ((cc & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    p->pos += (size_t)k + 1;
    return 0;
}

static int hex4(const char* s, unsigned* v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return -1;
        *v = (*v << 4) | d;
    }
    return 0;
}

static int parse_string(parser* p) {
    const char* s = p->j->src;
    size_t n = p->j->len;
    p->pos++; /* opening quote */
    int idx = push(p, JT_STR, (uint32_t)p->pos);
    if (idx < 0) return -1;
    while (p->pos < n) {
        unsigned char c = (unsigned char)s[p->pos];
        if (c == '"') {
            p->j->t[idx].end = (uint32_t)p->pos;
            p->j->t[idx].next = p->j->n;
            p->pos++;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (p->pos + 1 >= n) return -1;
            char e = s[p->pos + 1];
            if (e == 'u') {
                unsigned v;
                if (p->pos + 6 > n || hex4(s + p->pos + 2, &v)) return -1;
                p->pos += 6;
                if (v >= 0xD800 && v <= 0xDBFF) { /* must be followed by a low surrogate */
                    unsigned lo;
                    if (p->pos + 6 > n || s[p->pos] != '\\' || s[p->pos + 1] != 'u' ||
                        hex4(s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    p->pos += 6;
                } else if (v >= 0xDC00 && v <= 0xDFFF) {
                    return -1;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return -1;
            p->pos += 2;
            continue;
        }
        if (c >= 0x80) {
            if (utf8_seq(p)) return -1;
            continue;
        }
        p->pos++;
    }
    return -1;
}

static int parse_number(parser* p) {
    const char* s = p->j->src;
    size_t n = p->j->len;
    size_t st = p->pos;
    if (p->pos < n && s[p->pos] == '-') p->pos++;
    if (p->pos >= n) return -1;
    if (s[p->pos] == '0') {
        p->pos++;
    } else if (s[p->pos] >= '1' && s[p->pos] <= '9') {
        while (p->pos < n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    } else {
        return -1;
    }
    if (p->pos < n && s[p->pos] == '.') {
        p->pos++;
        size_t d = p->pos;
        while (p->pos < n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
        if (p->pos == d) return -1;
    }
    if (p->pos < n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < n && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        size_t d = p->pos;
        while (p->pos < n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
        if (p->pos == d) return -1;
    }
    int idx = push(p, JT_NUM, (uint32_t)st);
    if (idx < 0) return -1;
    p->j->t[idx].end = (uint32_t)p->pos;
    p->j->t[idx].next = p->j->n;
    return 0;
}

static int parse_literal(parser* p, const char* lit, uint8_t type) {
    size_t l = strlen(lit);
    if (p->j->len - p->pos < l || memcmp(p->j->src + p->pos, lit, l) != 0) return -1;
    int idx = push(p, type, (uint32_t)p->pos);
    if (idx < 0) return -1;
    p->pos += l;
    p->j->t[idx].end = (uint32_t)p->pos;
    p->j->t[idx].next = p->j->n;
    return 0;
}

static int parse_value(parser* p);

static int parse_container(parser* p, int obj) {
    const char* s = p->j->src;
    size_t n = p->j->len;
    if (++p->depth > JSON_MAX_DEPTH) return -1;
    int idx = push(p, obj ? JT_OBJ : JT_ARR, (uint32_t)p->pos);
    if (idx < 0) return -1;
    p->pos++;
    skip_ws(p);
    char close = obj ? '}' : ']';
    if (p->pos < n && s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (obj) {
                if (p->pos >= n || s[p->pos] != '"') return -1;
                if (parse_string(p)) return -1;
                skip_ws(p);
                if (p->pos >= n || s[p->pos] != ':') return -1;
                p->pos++;
                skip_ws(p);
            }
            if (parse_value(p)) return -1;
            p->j->t[idx].size++;
            skip_ws(p);
            if (p->pos >= n) return -1;
            if (s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (s[p->pos] == close) {
                p->pos++;
                break;
            }
            return -1;
        }
    }
    p->j->t[idx].end = (uint32_t)p->pos;
    p->j->t[idx].next = p->j->n;
    p->depth--;
    return 0;
}

static int parse_value(parser* p) {
    if (p->pos >= p->j->len) return -1;
    char c = p->j->src[p->pos];
    switch (c) {
        case '{': return parse_container(p, 1);
        case '[': return parse_container(p, 0);
        case '"': return parse_string(p);
        case 't': return parse_literal(p, "true", JT_TRUE);
        case 'f': return parse_literal(p, "false", JT_FALSE);
        case 'n': return parse_literal(p, "null", JT_NULL);
        default:
            if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
            return -1;
    }
}

int rc_json_parse(rc_json* j, const char* src, size_t len) {
    memset(j, 0, sizeof *j);
    if (!src || len == 0 || len > JSON_MAX_INPUT) return -1;
    j->src = src;
    j->len = len;
    parser p = {j, 0, 0};
    skip_ws(&p);
    if (parse_value(&p)) goto fail;
    skip_ws(&p);
    if (p.pos != len) goto fail;
    return 0;
fail:
    rc_json_free(j);
    return -1;
}

void rc_json_free(rc_json* j) {
    free(j->t);
    j->t = NULL;
    j->n = j->cap = 0;
}

uint32_t rc_json_first(const rc_json* j, uint32_t container) {
    (void)j;
    return container + 1;
}

/* Compares a string token with a plain (escape-free) ASCII key. */
int rc_json_key_is(const rc_json* j, uint32_t keytok, const char* key) {
    char buf[64];
    long l = rc_json_str(j, keytok, buf, sizeof buf);
    return l >= 0 && (size_t)l == strlen(key) && memcmp(buf, key, (size_t)l) == 0;
}

long rc_json_get(const rc_json* j, uint32_t obj, const char* key) {
    if (obj >= j->n || j->t[obj].type != JT_OBJ) return -1;
    long found = -1;
    uint32_t k = obj + 1;
    for (uint32_t i = 0; i < j->t[obj].size; i++) {
        uint32_t v = k + 1;
        if (rc_json_key_is(j, k, key)) {
            if (found >= 0) return -2;
            found = (long)v;
        }
        k = j->t[v].next;
    }
    return found;
}

static void put_utf8(char* out, size_t* o, unsigned cp) {
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 63));
        out[(*o)++] = (char)(0x80 | (cp & 63));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 63));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 63));
        out[(*o)++] = (char)(0x80 | (cp & 63));
    }
}

long rc_json_str(const rc_json* j, uint32_t tok, char* out, size_t cap) {
    if (tok >= j->n || j->t[tok].type != JT_STR || cap == 0) return -1;
    const char* s = j->src;
    size_t o = 0;
    for (uint32_t i = j->t[tok].start; i < j->t[tok].end;) {
        char c = s[i];
        /* room for what this step writes (at most 4 bytes for \\u) plus the NUL */
        if (o + (c == '\\' && s[i + 1] == 'u' ? 5 : 2) > cap) return -1;
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
            case 'b': out[o++] = '\b'; break;
            case 'f': out[o++] = '\f'; break;
            case 'n': out[o++] = '\n'; break;
            case 'r': out[o++] = '\r'; break;
            case 't': out[o++] = '\t'; break;
            case 'u': {
                unsigned v;
                hex4(s + i, &v);
                i += 4;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    unsigned lo;
                    hex4(s + i + 2, &lo);
                    i += 6;
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(out, &o, v);
                break;
            }
            default: out[o++] = e; break;
        }
    }
    out[o] = '\0';
    return (long)o;
}

int rc_json_int(const rc_json* j, uint32_t tok, int64_t* v) {
    if (tok >= j->n || j->t[tok].type != JT_NUM) return -1;
    const char* s = j->src + j->t[tok].start;
    size_t l = j->t[tok].end - j->t[tok].start;
    int neg = 0;
    size_t i = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    int64_t acc = 0;
    for (; i < l; i++) {
        if (s[i] < '0' || s[i] > '9') return -1; /* fractions and exponents are not integers */
        if (acc > (INT64_MAX - (s[i] - '0')) / 10) return -1;
        acc = acc * 10 + (s[i] - '0');
    }
    *v = neg ? -acc : acc;
    return 0;
}

/* ---- writer ---------------------------------------------------------------------------------- */

void rc_sb_init(rc_sb* sb, char* buf, size_t cap) {
    sb->buf = buf;
    sb->cap = cap;
    sb->len = 0;
    sb->overflow = 0;
    if (cap) buf[0] = '\0';
}

void rc_sb_mem(rc_sb* sb, const char* s, size_t n) {
    if (sb->overflow || sb->len + n + 1 > sb->cap) {
        sb->overflow = 1;
        return;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void rc_sb_raw(rc_sb* sb, const char* s) {
    rc_sb_mem(sb, s, strlen(s));
}

void rc_sb_fmt(rc_sb* sb, const char* fmt, ...) {
    if (sb->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sb->cap - sb->len) {
        sb->overflow = 1;
        sb->buf[sb->len] = '\0';
        return;
    }
    sb->len += (size_t)w;
}

void rc_sb_jstr(rc_sb* sb, const char* s, size_t n) {
    rc_sb_mem(sb, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc_sb_mem(sb, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            rc_sb_mem(sb, e, 6);
        } else {
            rc_sb_mem(sb, (const char*)&s[i], 1);
        }
    }
    rc_sb_mem(sb, "\"", 1);
}

void rc_sb_xml(rc_sb* sb, const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
            case '&': rc_sb_raw(sb, "&amp;"); break;
            case '<': rc_sb_raw(sb, "&lt;"); break;
            case '>': rc_sb_raw(sb, "&gt;"); break;
            case '"': rc_sb_raw(sb, "&quot;"); break;
            default: rc_sb_mem(sb, &s[i], 1); break;
        }
    }
}
