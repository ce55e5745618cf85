/*
 * libFuzzer harness: the decrypt engine through opencdm_session_decrypt_v2 with fuzzed scheme,
 * pattern, IV, key id and subsample map (maps that do not add up must be rejected, never read or
 * write outside the buffer).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drmkit/open_cdm.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static struct OpenCDMSystem* sys;
static struct OpenCDMSession* s;
static const uint8_t KID[16] = {0xab, 0xba, 0x27, 0x1e, 0x8b, 0xcf, 0x55, 0x2b,
                                0xbd, 0x2e, 0x86, 0xa4, 0x34, 0xa9, 0xa5, 0xd9};

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!sys) {
        static OpenCDMSessionCallbacks cbs;
        sys = opencdm_create_system("org.w3.clearkey");
        if (opencdm_construct_session(sys, Temporary, "webm", KID, 16, NULL, 0, &cbs, NULL, &s))
            abort();
        static const char lic[] =
            "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"q7onHovPVSu9LoakNKml2Q\",\"k\":\"aeqoAqZ2OvlJ6NGUD7iDkg\"}]}";
        if (opencdm_session_update(s, (const uint8_t*)lic, sizeof lic - 1)) abort();
    }
    if (size < 24) return 0;
    SampleInfo si;
    memset(&si, 0, sizeof si);
    si.scheme = (EncryptionScheme)(data[0] % 6);
    si.pattern.encrypted_blocks = data[1] % 12;
    si.pattern.clear_blocks = data[2] % 12;
    uint8_t iv[16];
    memcpy(iv, data + 3, 16);
    si.iv = data[19] & 1 ? iv : NULL;
    si.ivLength = (uint8_t)(data[19] >> 1) % 20;
    si.keyId = (uint8_t*)KID;
    si.keyIdLength = 16;
    size_t nsub = data[20] % 8;
    uint32_t len = (uint32_t)data[21] << 4 | data[22];
    data += 23;
    size -= 23;
    SubSampleInfo* sub = calloc(nsub ? nsub : 1, sizeof *sub);
    for (size_t i = 0; i < nsub && size >= 3; i++) {
        sub[i].clear_bytes = data[0];
        sub[i].encrypted_bytes = (uint32_t)data[1] << 4 | data[2];
        data += 3;
        size -= 3;
    }
    si.subSampleCount = (uint8_t)nsub;
    si.subSample = sub;
    uint8_t* buf = malloc(len ? len : 1);
    memset(buf, 0x5a, len);
    opencdm_session_decrypt_v2(s, buf, len, &si, NULL);
    free(buf);
    free(sub);
    return 0;
}
