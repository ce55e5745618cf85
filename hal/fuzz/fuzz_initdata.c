/*
 * libFuzzer harness: every init data parser of the reference CDM (keyids JSON, pssh boxes,
 * Widevine PSSH data, PlayReady objects, WRMHEADER XML in UTF-16LE and UTF-8). The first byte
 * selects the entry point; the rest is the input.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const uint8_t* d = data + 1;
    size_t n = size - 1;
    /* Exact-size heap copy so ASan sees any over-read. */
    uint8_t* buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, d, n);
    rc_initdata* out = calloc(1, sizeof *out);
    int found = 0;
    switch (sel % 10) {
        case 0: rc_parse_clearkey_initdata("keyids", buf, n, out); break;
        case 1: rc_parse_clearkey_initdata("cenc", buf, n, out); break;
        case 2: rc_parse_clearkey_initdata("webm", buf, n, out); break;
        case 3: rc_parse_widevine_initdata("cenc", buf, n, out); break;
        case 4: rc_parse_playready_initdata(buf, n, out); break;
        case 5: rc_parse_pssh_boxes(buf, n, out, 1, 1, 1, &found); break;
        case 6: rc_parse_widevine_pssh_data(buf, n, out); break;
        case 7: rc_parse_playready_object(buf, n, out); break;
        case 8: rc_parse_wrmheader_utf16(buf, n, out); break;
        case 9: rc_parse_wrmheader_xml((const char*)buf, n, out); break;
    }
    /* Parsed results must stay within bounds. */
    if (out->nkids > RC_MAX_INIT_KIDS) abort();
    for (unsigned i = 0; i < out->nkids; i++)
        if (out->kids[i].len == 0 || out->kids[i].len > RC_MAX_KID) abort();
    if (strnlen(out->la_url, sizeof out->la_url) == sizeof out->la_url) abort();
    free(out);
    free(buf);
    return 0;
}
