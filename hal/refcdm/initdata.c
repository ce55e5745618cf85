/*
 * Init data parsers: W3C "keyids" JSON, ISO BMFF "pssh" boxes (Common, Widevine and PlayReady
 * system ids), Widevine PSSH data (protobuf), PlayReady objects and WRMHEADER XML (v4.0-4.3).
 * Every length is checked against the bytes actually present; a size that lies is an error.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

static const uint8_t SYS_COMMON[16] = {0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02,
                                       0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b};
static const uint8_t SYS_WIDEVINE[16] = {0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce,
                                         0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed};
static const uint8_t SYS_PLAYREADY[16] = {0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86,
                                          0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95};

static int fail(rc_initdata* out, const char* msg) {
    if (!out->error[0]) snprintf(out->error, sizeof out->error, "%s", msg);
    return -1;
}

static uint32_t be32(const uint8_t* p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t* p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static uint16_t le16(const uint8_t* p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

int rc_kid_eq(const rc_kid* a, const uint8_t* kid, size_t len) {
    if (a->len != len) return 0;
    if (memcmp(a->b, kid, len) == 0) return 1;
    if (len != 16) return 0;
    /* PlayReady GUID byte order: first 4-2-2 groups reversed. */
    static const uint8_t swap[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++)
        if (a->b[i] != kid[swap[i]]) return 0;
    return 1;
}

static int add_kid(rc_initdata* out, const uint8_t* b, size_t len) {
    if (len == 0 || len > RC_MAX_KID) return fail(out, "key id must be 1..16 bytes");
    for (unsigned i = 0; i < out->nkids; i++)
        if (out->kids[i].len == len && memcmp(out->kids[i].b, b, len) == 0) return 0; /* dedupe */
    if (out->nkids >= RC_MAX_INIT_KIDS) return fail(out, "too many key ids");
    out->kids[out->nkids].len = (uint8_t)len;
    memcpy(out->kids[out->nkids].b, b, len);
    out->nkids++;
    return 0;
}

/* ---- pssh boxes ------------------------------------------------------------------------------ */

int rc_parse_pssh_boxes(const uint8_t* d, size_t n, rc_initdata* out, int want_common,
                        int want_widevine, int want_playready, int* found) {
    size_t pos = 0;
    *found = 0;
    if (n == 0) return fail(out, "empty init data");
    while (pos < n) {
        size_t left = n - pos;
        if (left < 8) return fail(out, "truncated box header");
        uint64_t size = be32(d + pos);
        size_t hdr = 8;
        if (memcmp(d + pos + 4, "pssh", 4) != 0) return fail(out, "not a pssh box");
        if (size == 1) {
            if (left < 16) return fail(out, "truncated box header");
            size = (uint64_t)be32(d + pos + 8) << 32 | be32(d + pos + 12);
            hdr = 16;
        } else if (size == 0) {
            size = left;
        }
        if (size > left) return fail(out, "pssh box size exceeds the init data");
        if (size < hdr + 4 + 16 + 4) return fail(out, "pssh box too small");
        const uint8_t* b = d + pos;
        size_t end = (size_t)size;
        uint8_t ver = b[hdr];
        if (ver > 1) return fail(out, "unsupported pssh box version");
        const uint8_t* sys = b + hdr + 4;
        size_t p = hdr + 20;
        const uint8_t* kids = NULL;
        uint32_t nk = 0;
        if (ver == 1) {
            if (end - p < 4) return fail(out, "truncated pssh KID count");
            nk = be32(b + p);
            p += 4;
            if (nk > (end - p) / 16) return fail(out, "pssh KID count exceeds the box");
            kids = b + p;
            p += (size_t)nk * 16;
        }
        if (end - p < 4) return fail(out, "truncated pssh data size");
        uint32_t ds = be32(b + p);
        p += 4;
        if (ds != end - p) return fail(out, "pssh data size does not match the box size");
        const uint8_t* data = b + p;
        if (want_common && memcmp(sys, SYS_COMMON, 16) == 0 && ver == 1) {
            for (uint32_t i = 0; i < nk; i++)
                if (add_kid(out, kids + 16 * i, 16)) return -1;
            (*found)++;
        } else if (want_widevine && memcmp(sys, SYS_WIDEVINE, 16) == 0) {
            for (uint32_t i = 0; i < nk; i++)
                if (add_kid(out, kids + 16 * i, 16)) return -1;
            if (rc_parse_widevine_pssh_data(data, ds, out)) return -1;
            (*found)++;
        } else if (want_playready && memcmp(sys, SYS_PLAYREADY, 16) == 0) {
            for (uint32_t i = 0; i < nk; i++)
                if (add_kid(out, kids + 16 * i, 16)) return -1;
            if (!out->have_playready) {
                if (rc_parse_playready_object(data, ds, out)) return -1;
            }
            (*found)++;
        }
        pos += end;
    }
    return 0;
}

/* ---- Widevine PSSH data (WidevinePsshData protobuf) ------------------------------------------ */

static int varint(const uint8_t* d, size_t n, size_t* p, uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= n) return -1;
        uint8_t c = d[(*p)++];
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

int rc_parse_widevine_pssh_data(const uint8_t* d, size_t n, rc_initdata* out) {
    size_t p = 0;
    out->have_widevine = 1;
    while (p < n) {
        uint64_t key;
        if (varint(d, n, &p, &key)) return fail(out, "widevine data: bad varint");
        uint32_t field = (uint32_t)(key >> 3);
        unsigned wt = (unsigned)(key & 7);
        if (field == 0) return fail(out, "widevine data: field 0");
        if (wt == 0) {
            uint64_t v;
            if (varint(d, n, &p, &v)) return fail(out, "widevine data: bad varint");
            if (field == 9) out->protection_scheme = (uint32_t)v;
        } else if (wt == 2) {
            uint64_t l;
            if (varint(d, n, &p, &l)) return fail(out, "widevine data: bad length");
            if (l > n - p) return fail(out, "widevine data: length exceeds the data");
            const uint8_t* v = d + p;
            if (field == 2) {
                if (add_kid(out, v, (size_t)l)) return -1;
            } else if (field == 3) {
                size_t c = l < sizeof out->provider - 1 ? (size_t)l : sizeof out->provider - 1;
                memcpy(out->provider, v, c);
                out->provider[c] = '\0';
            } else if (field == 4) {
                size_t c = l < sizeof out->content_id ? (size_t)l : sizeof out->content_id;
                memcpy(out->content_id, v, c);
                out->content_id_len = (unsigned)c;
            }
            p += (size_t)l;
        } else if (wt == 1) {
            if (n - p < 8) return fail(out, "widevine data: truncated fixed64");
            p += 8;
        } else if (wt == 5) {
            if (n - p < 4) return fail(out, "widevine data: truncated fixed32");
            p += 4;
        } else {
            return fail(out, "widevine data: unsupported wire type");
        }
    }
    return 0;
}

/* ---- PlayReady ------------------------------------------------------------------------------- */

int rc_parse_playready_object(const uint8_t* d, size_t n, rc_initdata* out) {
    if (n < 6) return fail(out, "PlayReady object too small");
    if (le32(d) != n) return fail(out, "PlayReady object length does not match");
    unsigned count = le16(d + 4);
    size_t p = 6;
    int have = 0;
    for (unsigned i = 0; i < count; i++) {
        if (n - p < 4) return fail(out, "truncated PlayReady record header");
        unsigned type = le16(d + p);
        size_t len = le16(d + p + 2);
        p += 4;
        if (len > n - p) return fail(out, "PlayReady record length exceeds the object");
        if (type == 1 && !have) {
            if (rc_parse_wrmheader_utf16(d + p, len, out)) return -1;
            have = 1;
        }
        p += len;
    }
    if (p != n) return fail(out, "trailing bytes after the PlayReady records");
    if (!have) return fail(out, "PlayReady object has no WRM header record");
    return 0;
}

int rc_parse_wrmheader_utf16(const uint8_t* d, size_t n, rc_initdata* out) {
    if (n >= 2 && d[0] == 0xFF && d[1] == 0xFE) { /* tolerate a BOM */
        d += 2;
        n -= 2;
    }
    if (n == 0 || n % 2) return fail(out, "WRM header is not UTF-16LE");
    size_t cap = n / 2 * 3 + 1;
    char* xml = malloc(cap);
    if (!xml) return fail(out, "out of memory");
    long l = rc_utf16le_to_utf8(d, n, xml, cap);
    int rc = l < 0 ? fail(out, "WRM header is not valid UTF-16LE")
                   : rc_parse_wrmheader_xml(xml, (size_t)l, out);
    free(xml);
    return rc;
}

/* XML entity unescape into out (cap incl. NUL). Returns length or -1. */
static long xml_unescape(const char* s, size_t n, char* out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (o + 5 > cap) return -1;
        if (s[i] != '&') {
            out[o++] = s[i++];
            continue;
        }
        const char* semi = memchr(s + i, ';', n - i);
        if (!semi) return -1;
        size_t el = (size_t)(semi - (s + i)) + 1;
        const char* e = s + i;
        if (el == 5 && !memcmp(e, "&amp;", 5)) out[o++] = '&';
        else if (el == 4 && !memcmp(e, "&lt;", 4)) out[o++] = '<';
        else if (el == 4 && !memcmp(e, "&gt;", 4)) out[o++] = '>';
        else if (el == 6 && !memcmp(e, "&quot;", 6)) out[o++] = '"';
        else if (el == 6 && !memcmp(e, "&apos;", 6)) out[o++] = '\'';
        else if (el > 3 && el < 12 && e[1] == '#') {
            unsigned long cp = 0;
            size_t k = 2;
            int hex = e[2] == 'x';
            if (hex) k = 3;
            if (k >= el - 1) return -1;
            for (; k < el - 1; k++) {
                char c = e[k];
                int dv;
                if (c >= '0' && c <= '9') dv = c - '0';
                else if (hex && c >= 'a' && c <= 'f') dv = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F') dv = c - 'A' + 10;
                else return -1;
                cp = cp * (hex ? 16 : 10) + (unsigned long)dv;
            }
            if (cp == 0 || cp > 0x7f) return -1; /* ASCII only: URLs and base64 need no more */
            out[o++] = (char)cp;
        } else {
            return -1;
        }
        i += el;
    }
    out[o] = '\0';
    return (long)o;
}

static int name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-' || c == '.';
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Local name (after any namespace prefix) equals `want`. */
static int lname_is(const char* name, size_t len, const char* want) {
    const char* colon = memchr(name, ':', len);
    if (colon) {
        len -= (size_t)(colon + 1 - name);
        name = colon + 1;
    }
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

static void kid_from_guid_le(const uint8_t* le, uint8_t* be) {
    static const uint8_t swap[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++) be[i] = le[swap[i]];
}

static int add_b64_guid(rc_initdata* out, const char* v, size_t n) {
    char tmp[64];
    uint8_t le[32], be[16];
    long u = xml_unescape(v, n, tmp, sizeof tmp);
    if (u < 0) return fail(out, "bad KID value");
    size_t a = 0, b = (size_t)u;
    while (a < b && is_ws(tmp[a])) a++;
    while (b > a && is_ws(tmp[b - 1])) b--;
    long l = rc_b64_decode(tmp + a, b - a, le, sizeof le);
    if (l != 16) return fail(out, "WRM header KID is not base64 of 16 bytes");
    kid_from_guid_le(le, be);
    return add_kid(out, be, 16);
}

#define XML_MAX_DEPTH 16

int rc_parse_wrmheader_xml(const char* x, size_t n, rc_initdata* out) {
    struct {
        const char* name;
        size_t len;
        size_t text_start;
        int kid_has_value;
    } st[XML_MAX_DEPTH];
    int depth = 0;
    int root_seen = 0, root_closed = 0;
    size_t i = 0;
    if (n >= 3 && (unsigned char)x[0] == 0xEF && (unsigned char)x[1] == 0xBB &&
        (unsigned char)x[2] == 0xBF)
        i = 3;
    while (i < n) {
        if (x[i] != '<') {
            if (depth == 0 && !is_ws(x[i])) return fail(out, "text outside the WRMHEADER element");
            i++;
            continue;
        }
        size_t tag = i;
        if (n - i >= 4 && !memcmp(x + i, "<!--", 4)) {
            const char* e = NULL;
            for (size_t k = i + 4; k + 3 <= n; k++)
                if (!memcmp(x + k, "-->", 3)) {
                    e = x + k;
                    break;
                }
            if (!e) return fail(out, "unterminated XML comment");
            i = (size_t)(e - x) + 3;
            continue;
        }
        if (n - i >= 2 && x[i + 1] == '?') {
            const char* e = NULL;
            for (size_t k = i + 2; k + 2 <= n; k++)
                if (!memcmp(x + k, "?>", 2)) {
                    e = x + k;
                    break;
                }
            if (!e) return fail(out, "unterminated XML declaration");
            i = (size_t)(e - x) + 2;
            continue;
        }
        if (n - i >= 2 && x[i + 1] == '!') return fail(out, "DTD/CDATA not allowed in WRM header");
        int closing = n - i >= 2 && x[i + 1] == '/';
        i += closing ? 2 : 1;
        size_t ns = i;
        while (i < n && name_char(x[i])) i++;
        size_t nl = i - ns;
        if (nl == 0) return fail(out, "malformed XML tag");
        const char* name = x + ns;
        if (closing) {
            while (i < n && is_ws(x[i])) i++;
            if (i >= n || x[i] != '>') return fail(out, "malformed XML closing tag");
            i++;
            if (depth == 0 || st[depth - 1].len != nl || memcmp(st[depth - 1].name, name, nl))
                return fail(out, "mismatched XML closing tag");
            depth--;
            const char* text = x + st[depth].text_start;
            size_t tl = tag - st[depth].text_start;
            if (lname_is(name, nl, "KID") && !st[depth].kid_has_value) {
                if (add_b64_guid(out, text, tl)) return -1;
            } else if (lname_is(name, nl, "LA_URL")) {
                if (memchr(text, '<', tl)) return fail(out, "LA_URL contains markup");
                if (xml_unescape(text, tl, out->la_url, sizeof out->la_url) < 0)
                    return fail(out, "bad LA_URL");
            }
            if (depth == 0) root_closed = 1;
            continue;
        }
        if (root_closed) return fail(out, "content after the WRMHEADER element");
        if (depth == 0) {
            if (root_seen || !lname_is(name, nl, "WRMHEADER"))
                return fail(out, "root element is not WRMHEADER");
            root_seen = 1;
        }
        int kid_has_value = 0;
        int is_root = depth == 0;
        /* attributes */
        for (int nattr = 0;; nattr++) {
            while (i < n && is_ws(x[i])) i++;
            if (i >= n) return fail(out, "unterminated XML tag");
            if (x[i] == '>' || (x[i] == '/' && i + 1 < n && x[i + 1] == '>')) break;
            if (nattr >= 32) return fail(out, "too many XML attributes");
            size_t as = i;
            while (i < n && name_char(x[i])) i++;
            size_t al = i - as;
            if (al == 0) return fail(out, "malformed XML attribute");
            while (i < n && is_ws(x[i])) i++;
            if (i >= n || x[i] != '=') return fail(out, "malformed XML attribute");
            i++;
            while (i < n && is_ws(x[i])) i++;
            if (i >= n || (x[i] != '"' && x[i] != '\'')) return fail(out, "unquoted attribute");
            char q = x[i++];
            size_t vs = i;
            while (i < n && x[i] != q && x[i] != '<') i++;
            if (i >= n || x[i] != q) return fail(out, "unterminated attribute value");
            size_t vl = i - vs;
            i++;
            if (is_root && lname_is(x + as, al, "version")) {
                if (xml_unescape(x + vs, vl, out->pr_version, sizeof out->pr_version) < 0)
                    return fail(out, "bad WRMHEADER version");
            } else if (lname_is(name, nl, "KID") && lname_is(x + as, al, "VALUE")) {
                if (add_b64_guid(out, x + vs, vl)) return -1;
                kid_has_value = 1;
            }
        }
        int self_close = x[i] == '/';
        i += self_close ? 2 : 1;
        if (is_root) {
            const char* v = out->pr_version;
            if (strcmp(v, "4.0.0.0") && strcmp(v, "4.1.0.0") && strcmp(v, "4.2.0.0") &&
                strcmp(v, "4.3.0.0"))
                return fail(out, "unsupported or missing WRMHEADER version");
        }
        if (self_close) {
            if (is_root) root_closed = 1;
            continue;
        }
        if (depth >= XML_MAX_DEPTH) return fail(out, "WRM header nested too deeply");
        st[depth].name = name;
        st[depth].len = nl;
        st[depth].text_start = i;
        st[depth].kid_has_value = kid_has_value;
        depth++;
    }
    if (!root_seen || !root_closed || depth) return fail(out, "incomplete WRMHEADER XML");
    out->have_playready = 1;
    return 0;
}

/* ---- per key system entry points ------------------------------------------------------------- */

static int parse_keyids(const uint8_t* d, size_t n, rc_initdata* out) {
    rc_json j;
    if (rc_json_parse(&j, (const char*)d, n)) return fail(out, "keyids init data is not JSON");
    int rc = -1;
    long kids = rc_json_get(&j, 0, "kids");
    if (kids < 0 || j.t[kids].type != JT_ARR) {
        fail(out, "keyids init data has no \"kids\" array");
        goto done;
    }
    if (j.t[kids].size == 0) {
        fail(out, "keyids init data has an empty \"kids\" array");
        goto done;
    }
    uint32_t e = rc_json_first(&j, (uint32_t)kids);
    for (uint32_t i = 0; i < j.t[kids].size; i++, e = j.t[e].next) {
        char s[64];
        uint8_t kid[48];
        long sl = rc_json_str(&j, e, s, sizeof s);
        long kl = sl < 0 ? -1 : rc_b64_decode(s, (size_t)sl, kid, sizeof kid);
        if (kl < 0) {
            fail(out, "keyids init data: a kid is not base64url");
            goto done;
        }
        if (add_kid(out, kid, (size_t)kl)) goto done;
    }
    rc = 0;
done:
    rc_json_free(&j);
    return rc;
}

int rc_parse_clearkey_initdata(const char* type, const uint8_t* d, size_t n, rc_initdata* out) {
    if (!d || n == 0) return fail(out, "empty init data");
    if (!strcmp(type, "keyids")) return parse_keyids(d, n, out);
    if (!strcmp(type, "webm")) return add_kid(out, d, n);
    if (!strcmp(type, "cenc")) {
        int found;
        if (rc_parse_pssh_boxes(d, n, out, 1, 0, 0, &found)) return -1;
        if (out->nkids == 0) return fail(out, "cenc init data has no Common (v1) pssh key ids");
        return 0;
    }
    return fail(out, "unsupported init data type for org.w3.clearkey");
}

int rc_parse_widevine_initdata(const char* type, const uint8_t* d, size_t n, rc_initdata* out) {
    if (!d || n == 0) return fail(out, "empty init data");
    if (!strcmp(type, "webm")) return add_kid(out, d, n);
    if (!strcmp(type, "cenc")) {
        int found;
        if (rc_parse_pssh_boxes(d, n, out, 0, 1, 0, &found)) return -1;
        if (!found) return fail(out, "cenc init data has no Widevine pssh box");
        return 0;
    }
    return fail(out, "unsupported init data type for com.widevine.alpha");
}

int rc_parse_playready_initdata(const uint8_t* d, size_t n, rc_initdata* out) {
    if (!d || n == 0) return fail(out, "empty init data");
    if (n >= 8 && !memcmp(d + 4, "pssh", 4)) {
        int found;
        if (rc_parse_pssh_boxes(d, n, out, 0, 0, 1, &found)) return -1;
        if (!found || !out->have_playready) return fail(out, "no PlayReady pssh box");
        return 0;
    }
    if (n >= 6 && le32(d) == n) return rc_parse_playready_object(d, n, out);
    if ((n >= 2 && d[0] == '<' && d[1] == 0) || (n >= 2 && d[0] == 0xFF && d[1] == 0xFE))
        return rc_parse_wrmheader_utf16(d, n, out);
    if (d[0] == '<' || (n >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF)) {
        for (size_t i = 0; i < n; i++)
            if (d[i] == 0) return fail(out, "NUL byte in PlayReady header");
        return rc_parse_wrmheader_xml((const char*)d, n, out);
    }
    return fail(out, "unrecognised PlayReady init data");
}
