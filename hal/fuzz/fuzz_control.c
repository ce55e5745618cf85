/*
 * libFuzzer harness: the JSON control interface (drmkit_refcdm_test_control) and the JSON parser
 * behind licenses and key-id lists. Commands that would sleep (delay_ms) or touch the file system
 * (configure) are not sent; injections are reset after each input.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    rc_json j;
    if (rc_json_parse(&j, s, size) == 0) {
        if (j.n == 0 || j.t[0].next != j.n) abort();
        char tmp[32];
        for (uint32_t i = 0; i < j.n; i++) {
            rc_json_str(&j, i, tmp, sizeof tmp);
            int64_t v;
            rc_json_int(&j, i, &v);
            if (j.t[i].end > size || j.t[i].start > j.t[i].end) abort();
        }
        rc_json_free(&j);
    }
    if (!strstr(s, "delay")) {
        char reply[64];
        uint32_t rs = sizeof reply;
        drmkit_refcdm_test_control(s, reply, &rs);
        rs = sizeof reply;
        drmkit_refcdm_test_control("{\"op\":\"reset\"}", reply, &rs);
    }
    free(s);
    return 0;
}
