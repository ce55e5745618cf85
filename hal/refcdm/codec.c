/* Small bounded codecs: base64 (standard and URL-safe), hex, UTF-16LE to UTF-8, randomness. */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <openssl/rand.h>
#include <string.h>

#include "refcdm.h"

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long rc_b64_decode(const char* in, size_t inlen, uint8_t* out, size_t cap) {
    size_t n = inlen;
    size_t pad = 0;
    while (n > 0 && in[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad && (n + pad) % 4 != 0) return -1; /* padding present: must complete a quantum */
    if (n % 4 == 1) return -1;                  /* impossible length */
    size_t outlen = (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (outlen > cap) return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    return (long)o;
}

long rc_b64_encode(const uint8_t* in, size_t inlen, char* out, size_t cap, int url, int pad) {
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char* a = url ? safe : std;
    size_t need = (inlen / 3) * 4;
    size_t rem = inlen % 3;
    if (rem) need += pad ? 4 : rem + 1;
    if (need + 1 > cap) return -1;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= inlen; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (rem == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (rem == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        if (pad) out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

void rc_hex(const uint8_t* in, size_t n, char* out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long rc_unhex(const char* in, size_t inlen, uint8_t* out, size_t cap) {
    if (inlen % 2 || inlen / 2 > cap) return -1;
    for (size_t i = 0; i < inlen / 2; i++) {
        int hi = hexval(in[2 * i]);
        int lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(inlen / 2);
}

long rc_utf16le_to_utf8(const uint8_t* in, size_t inlen, char* out, size_t cap) {
    if (inlen % 2 || cap == 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < inlen; i += 2) {
        uint32_t cp = (uint32_t)in[i] | ((uint32_t)in[i + 1] << 8);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 3 >= inlen) return -1;
            uint32_t lo = (uint32_t)in[i + 2] | ((uint32_t)in[i + 3] << 8);
            if (lo < 0xDC00 || lo > 0xDFFF) return -1;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return -1;
        }
        if (cp == 0) return -1;
        uint8_t tmp[4];
        size_t k;
        if (cp < 0x80) {
            tmp[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            tmp[0] = (uint8_t)(0xC0 | (cp >> 6));
            tmp[1] = (uint8_t)(0x80 | (cp & 63));
            k = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (uint8_t)(0xE0 | (cp >> 12));
            tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
            tmp[2] = (uint8_t)(0x80 | (cp & 63));
            k = 3;
        } else {
            tmp[0] = (uint8_t)(0xF0 | (cp >> 18));
            tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
            tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
            tmp[3] = (uint8_t)(0x80 | (cp & 63));
            k = 4;
        }
        if (o + k + 1 > cap) return -1;
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = '\0';
    return (long)o;
}

int rc_random(uint8_t* out, size_t n) {
    return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}
