/*
 * drmkit HAL shim: dlopen()s one OCDM library and forwards calls through a per-library table of
 * dlsym()'d function pointers. See shim.h.
 *
 * Function pointer types come from the declarations in drmkit/open_cdm.h via __typeof__, so the
 * compiler checks every forwarder against drmkit's C header of the ABI; __typeof__ does not
 * evaluate its operand, so the extension references no OCDM symbol at link time.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drmkit/refcdm_control.h"

/* The pre-2021 form of opencdm_session_decrypt (the reference CDM exports it under its own name so
 * that the HAL's legacy path can be tested next to the current form). */
typedef OpenCDMError (*hal_decrypt_legacy_fn)(struct OpenCDMSession* session, uint8_t encrypted[],
                                              const uint32_t encryptedLength, const uint8_t* IV,
                                              uint16_t IVLength, const uint8_t* keyId,
                                              const uint16_t keyIdLength,
                                              uint32_t initWithLast15);

/* X(required, symbol): every symbol the HAL resolves. Required ones exist in every OCDM release
 * the HAL supports; the others (newer releases, the Netflix/PlayReady extension, the reference
 * CDM's control entry points) may be absent and make the matching Python call fail cleanly. */
#define HAL_OCDM_SYMBOLS(X)                           \
    X(1, opencdm_create_system)                       \
    X(0, opencdm_create_system_extended)              \
    X(1, opencdm_destruct_system)                     \
    X(1, opencdm_is_type_supported)                   \
    X(0, opencdm_system_get_metadata)                 \
    X(0, opencdm_system_get_version)                  \
    X(0, opencdm_system_get_drm_time)                 \
    X(0, opencdm_get_session)                         \
    X(0, opencdm_get_system_session)                  \
    X(0, opencdm_system_supports_server_certificate)  \
    X(0, opencdm_system_set_server_certificate)       \
    X(0, opencdm_get_metric_system_data)              \
    X(1, opencdm_construct_session)                   \
    X(1, opencdm_destruct_session)                    \
    X(1, opencdm_session_load)                        \
    X(1, opencdm_session_update)                      \
    X(1, opencdm_session_remove)                      \
    X(0, opencdm_session_metadata)                    \
    X(0, opencdm_session_resetoutputprotection)       \
    X(1, opencdm_session_id)                          \
    X(1, opencdm_session_has_key_id)                  \
    X(1, opencdm_session_status)                      \
    X(0, opencdm_session_error)                       \
    X(0, opencdm_session_system_error)                \
    X(0, opencdm_session_buffer_id)                   \
    X(1, opencdm_session_close)                       \
    X(1, opencdm_session_decrypt)                     \
    X(0, opencdm_session_decrypt_v2)                  \
    X(0, opencdm_get_metric_session_data)             \
    X(0, opencdm_dispose)                             \
    X(0, opencdm_system_ext_get_ldl_session_limit)    \
    X(0, opencdm_system_ext_is_secure_stop_enabled)   \
    X(0, opencdm_system_ext_enable_secure_stop)       \
    X(0, opencdm_system_ext_reset_secure_stop)        \
    X(0, opencdm_system_ext_get_secure_stop_ids)      \
    X(0, opencdm_system_ext_get_secure_stop)          \
    X(0, opencdm_system_ext_commit_secure_stop)       \
    X(0, opencdm_get_key_store_hash_ext)              \
    X(0, opencdm_get_secure_store_hash_ext)           \
    X(0, opencdm_delete_key_store)                    \
    X(0, opencdm_delete_secure_store)                 \
    X(0, opencdm_session_set_drm_header)              \
    X(0, opencdm_session_get_challenge_data)          \
    X(0, opencdm_session_cancel_challenge_data)       \
    X(0, opencdm_session_store_license_data)          \
    X(0, opencdm_session_select_key_id)               \
    X(0, opencdm_system_teardown)                     \
    X(0, opencdm_session_clean_decrypt_context)       \
    X(0, opencdm_system_ext_get_properties)           \
    X(0, drmkit_refcdm_configure)                     \
    X(0, drmkit_refcdm_test_control)

struct hal_lib {
    void* handle;
#define HAL_FIELD(required, name) __typeof__(&name) name;
    HAL_OCDM_SYMBOLS(HAL_FIELD)
#undef HAL_FIELD
    hal_decrypt_legacy_fn drmkit_refcdm_session_decrypt_legacy;
};

typedef struct {
    const char* name;
    size_t offset;
    int required;
} hal_symbol;

static const hal_symbol hal_symbols[] = {
#define HAL_ENTRY(required, name) {#name, offsetof(struct hal_lib, name), required},
    HAL_OCDM_SYMBOLS(HAL_ENTRY)
#undef HAL_ENTRY
    {"drmkit_refcdm_session_decrypt_legacy",
     offsetof(struct hal_lib, drmkit_refcdm_session_decrypt_legacy), 0},
};

#define HAL_SYMBOL_COUNT (sizeof(hal_symbols) / sizeof(hal_symbols[0]))

static void* hal_slot_get(const hal_lib* lib, size_t index) {
    void* fn;
    memcpy(&fn, (const char*)lib + hal_symbols[index].offset, sizeof fn);
    return fn;
}

static void hal_append(char* out, size_t out_size, size_t* used, const char* text) {
    size_t len = strlen(text);
    if (out == NULL || out_size == 0 || *used + 1 >= out_size) {
        return;
    }
    if (*used + len + 1 > out_size) {
        len = out_size - *used - 1;
    }
    memcpy(out + *used, text, len);
    *used += len;
    out[*used] = '\0';
}

hal_lib* hal_lib_open(const char* path, int* reason, char* error, size_t error_size) {
    size_t used = 0;
    if (error != NULL && error_size > 0) {
        error[0] = '\0';
    }
    hal_lib* lib = calloc(1, sizeof *lib);
    if (lib == NULL) {
        *reason = HAL_OPEN_OUT_OF_MEMORY;
        hal_append(error, error_size, &used, "out of memory");
        return NULL;
    }
    dlerror();
    lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib->handle == NULL) {
        const char* why = dlerror();
        *reason = HAL_OPEN_DLOPEN_FAILED;
        hal_append(error, error_size, &used, why != NULL ? why : "dlopen failed");
        free(lib);
        return NULL;
    }
    int missing = 0;
    for (size_t i = 0; i < HAL_SYMBOL_COUNT; i++) {
        void* fn = dlsym(lib->handle, hal_symbols[i].name);
        memcpy((char*)lib + hal_symbols[i].offset, &fn, sizeof fn);
        if (fn == NULL && hal_symbols[i].required) {
            hal_append(error, error_size, &used, missing ? ", " : "");
            hal_append(error, error_size, &used, hal_symbols[i].name);
            missing++;
        }
    }
    if (missing) {
        *reason = HAL_OPEN_MISSING_SYMBOLS;
        dlclose(lib->handle);
        free(lib);
        return NULL;
    }
    *reason = 0;
    return lib;
}

void hal_lib_close(hal_lib* lib) {
    if (lib != NULL) {
        dlclose(lib->handle);
        free(lib);
    }
}

int hal_lib_has(const hal_lib* lib, const char* symbol) {
    for (size_t i = 0; i < HAL_SYMBOL_COUNT; i++) {
        if (strcmp(hal_symbols[i].name, symbol) == 0) {
            return hal_slot_get(lib, i) != NULL;
        }
    }
    return 0;
}

size_t hal_lib_symbol_count(void) { return HAL_SYMBOL_COUNT; }

const char* hal_lib_symbol_name(size_t index) {
    return index < HAL_SYMBOL_COUNT ? hal_symbols[index].name : NULL;
}

int hal_lib_symbol_required(size_t index) {
    return index < HAL_SYMBOL_COUNT ? hal_symbols[index].required : 0;
}

#define U8(p) ((const uint8_t*)(const void*)(p))
#define CALL_OR(L, name, missing, ...) ((L)->name != NULL ? (uint32_t)(L)->name(__VA_ARGS__) : (missing))

/* ---- open_cdm.h ---------------------------------------------------------------------------- */

struct OpenCDMSystem* hal_create_system(const hal_lib* L, const char* key_system) {
    return L->opencdm_create_system(key_system);
}

uint32_t hal_create_system_extended(const hal_lib* L, const char* key_system,
                                    struct OpenCDMSystem** system) {
    *system = NULL;
    return CALL_OR(L, opencdm_create_system_extended, HAL_MISSING_SYMBOL, key_system, system);
}

uint32_t hal_destruct_system(const hal_lib* L, struct OpenCDMSystem* system) {
    return (uint32_t)L->opencdm_destruct_system(system);
}

uint32_t hal_is_type_supported(const hal_lib* L, const char* key_system, const char* mime_type) {
    return (uint32_t)L->opencdm_is_type_supported(key_system, mime_type);
}

uint32_t hal_system_get_metadata(const hal_lib* L, struct OpenCDMSystem* system, char* metadata,
                                 uint16_t* size) {
    return CALL_OR(L, opencdm_system_get_metadata, HAL_MISSING_SYMBOL, system, metadata, size);
}

uint32_t hal_system_get_version(const hal_lib* L, struct OpenCDMSystem* system, char* version) {
    return CALL_OR(L, opencdm_system_get_version, HAL_MISSING_SYMBOL, system, version);
}

uint32_t hal_system_get_drm_time(const hal_lib* L, struct OpenCDMSystem* system, uint64_t* time) {
    return CALL_OR(L, opencdm_system_get_drm_time, HAL_MISSING_SYMBOL, system, time);
}

struct OpenCDMSession* hal_get_session(const hal_lib* L, const char* key_id, uint8_t length,
                                       uint32_t wait_ms) {
    return L->opencdm_get_session != NULL ? L->opencdm_get_session(U8(key_id), length, wait_ms)
                                          : NULL;
}

struct OpenCDMSession* hal_get_system_session(const hal_lib* L, struct OpenCDMSystem* system,
                                              const char* key_id, uint8_t length,
                                              uint32_t wait_ms) {
    return L->opencdm_get_system_session != NULL
               ? L->opencdm_get_system_session(system, U8(key_id), length, wait_ms)
               : NULL;
}

uint32_t hal_system_supports_server_certificate(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_system_supports_server_certificate, 0u, system);
}

uint32_t hal_system_set_server_certificate(const hal_lib* L, struct OpenCDMSystem* system,
                                           const char* cert, uint16_t length) {
    return CALL_OR(L, opencdm_system_set_server_certificate, HAL_MISSING_SYMBOL, system, U8(cert),
                   length);
}

uint32_t hal_get_metric_system_data(const hal_lib* L, struct OpenCDMSystem* system,
                                    uint32_t* length, uint8_t* buffer) {
    return CALL_OR(L, opencdm_get_metric_system_data, HAL_MISSING_SYMBOL, system, length, buffer);
}

uint32_t hal_construct_session(const hal_lib* L, struct OpenCDMSystem* system,
                               uint32_t license_type, const char* init_data_type,
                               const char* init_data, uint16_t init_data_length,
                               const char* cdm_data, uint16_t cdm_data_length,
                               OpenCDMSessionCallbacks* callbacks, void* user_data,
                               struct OpenCDMSession** session) {
    *session = NULL;
    return (uint32_t)L->opencdm_construct_session(
        system, (LicenseType)license_type, init_data_type, init_data_length ? U8(init_data) : NULL,
        init_data_length, cdm_data_length ? U8(cdm_data) : NULL, cdm_data_length, callbacks,
        user_data, session);
}

uint32_t hal_destruct_session(const hal_lib* L, struct OpenCDMSession* session) {
    return (uint32_t)L->opencdm_destruct_session(session);
}

uint32_t hal_session_load(const hal_lib* L, struct OpenCDMSession* session) {
    return (uint32_t)L->opencdm_session_load(session);
}

uint32_t hal_session_update(const hal_lib* L, struct OpenCDMSession* session, const char* message,
                            uint16_t length) {
    return (uint32_t)L->opencdm_session_update(session, U8(message), length);
}

uint32_t hal_session_remove(const hal_lib* L, struct OpenCDMSession* session) {
    return (uint32_t)L->opencdm_session_remove(session);
}

uint32_t hal_session_metadata(const hal_lib* L, struct OpenCDMSession* session, char* metadata,
                              uint16_t* size) {
    return CALL_OR(L, opencdm_session_metadata, HAL_MISSING_SYMBOL, session, metadata, size);
}

uint32_t hal_session_resetoutputprotection(const hal_lib* L, struct OpenCDMSession* session) {
    return CALL_OR(L, opencdm_session_resetoutputprotection, HAL_MISSING_SYMBOL, session);
}

const char* hal_session_id(const hal_lib* L, struct OpenCDMSession* session) {
    return L->opencdm_session_id(session);
}

uint32_t hal_session_has_key_id(const hal_lib* L, struct OpenCDMSession* session, uint8_t length,
                                const char* key_id) {
    return L->opencdm_session_has_key_id(session, length, U8(key_id));
}

uint32_t hal_session_status(const hal_lib* L, struct OpenCDMSession* session, const char* key_id,
                            uint8_t length) {
    return (uint32_t)L->opencdm_session_status(session, U8(key_id), length);
}

uint32_t hal_session_error(const hal_lib* L, struct OpenCDMSession* session, const char* key_id,
                           uint8_t length) {
    return CALL_OR(L, opencdm_session_error, 0u, session, length ? U8(key_id) : NULL, length);
}

uint32_t hal_session_system_error(const hal_lib* L, struct OpenCDMSession* session) {
    return CALL_OR(L, opencdm_session_system_error, HAL_MISSING_SYMBOL, session);
}

const char* hal_session_buffer_id(const hal_lib* L, struct OpenCDMSession* session) {
    return L->opencdm_session_buffer_id != NULL ? L->opencdm_session_buffer_id(session) : NULL;
}

uint32_t hal_session_close(const hal_lib* L, struct OpenCDMSession* session) {
    return (uint32_t)L->opencdm_session_close(session);
}

uint32_t hal_session_decrypt(const hal_lib* L, struct OpenCDMSession* session, uint8_t* buffer,
                             uint32_t length, uint32_t scheme, uint32_t crypt_blocks,
                             uint32_t skip_blocks, const char* iv, uint16_t iv_length,
                             const char* key_id, uint16_t key_id_length,
                             uint32_t init_with_last15) {
    EncryptionPattern pattern = {crypt_blocks, skip_blocks};
    return (uint32_t)L->opencdm_session_decrypt(session, buffer, length, (EncryptionScheme)scheme,
                                                pattern, iv_length ? U8(iv) : NULL, iv_length,
                                                key_id_length ? U8(key_id) : NULL, key_id_length,
                                                init_with_last15);
}

uint32_t hal_session_decrypt_v2(const hal_lib* L, struct OpenCDMSession* session, uint8_t* buffer,
                                uint32_t length, uint32_t scheme, uint32_t crypt_blocks,
                                uint32_t skip_blocks, const char* iv, uint8_t iv_length,
                                const char* key_id, uint8_t key_id_length,
                                const char* subsamples, uint8_t subsample_count,
                                uint16_t height, uint16_t width, uint32_t media_type) {
    if (L->opencdm_session_decrypt_v2 == NULL) {
        return HAL_MISSING_SYMBOL;
    }
    SubSampleInfo map[UINT8_MAX];
    if (subsample_count) {
        memcpy(map, subsamples, (size_t)subsample_count * sizeof map[0]);
    }
    SampleInfo info = {
        .scheme = (EncryptionScheme)scheme,
        .pattern = {crypt_blocks, skip_blocks},
        .iv = iv_length ? (uint8_t*)(uintptr_t)iv : NULL,
        .ivLength = iv_length,
        .keyId = key_id_length ? (uint8_t*)(uintptr_t)key_id : NULL,
        .keyIdLength = key_id_length,
        .subSampleCount = subsample_count,
        .subSample = subsample_count ? map : NULL,
    };
    MediaProperties media = {height, width, (MediaType)media_type};
    return (uint32_t)L->opencdm_session_decrypt_v2(session, buffer, length, &info, &media);
}

uint32_t hal_session_decrypt_legacy(const hal_lib* L, struct OpenCDMSession* session,
                                    uint8_t* buffer, uint32_t length, const char* iv,
                                    uint16_t iv_length, const char* key_id,
                                    uint16_t key_id_length, uint32_t init_with_last15) {
    hal_decrypt_legacy_fn fn = L->drmkit_refcdm_session_decrypt_legacy;
    if (fn == NULL) {
        /* A pre-2021 library exports the 8-argument form under the current name; the caller
         * (Python) only takes this path when configured to. */
        fn = (hal_decrypt_legacy_fn)(void (*)(void))L->opencdm_session_decrypt;
    }
    return (uint32_t)fn(session, buffer, length, iv_length ? U8(iv) : NULL, iv_length,
                        key_id_length ? U8(key_id) : NULL, key_id_length, init_with_last15);
}

uint32_t hal_get_metric_session_data(const hal_lib* L, struct OpenCDMSession* session,
                                     uint32_t* length, uint8_t* buffer) {
    return CALL_OR(L, opencdm_get_metric_session_data, HAL_MISSING_SYMBOL, session, length,
                   buffer);
}

void hal_dispose(const hal_lib* L) {
    if (L->opencdm_dispose != NULL) {
        L->opencdm_dispose();
    }
}

/* ---- open_cdm_ext.h ------------------------------------------------------------------------ */

uint32_t hal_system_ext_get_ldl_session_limit(const hal_lib* L, struct OpenCDMSystem* system,
                                              uint32_t* limit) {
    return CALL_OR(L, opencdm_system_ext_get_ldl_session_limit, HAL_MISSING_SYMBOL, system, limit);
}

uint32_t hal_system_ext_is_secure_stop_enabled(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_system_ext_is_secure_stop_enabled, 0u, system);
}

uint32_t hal_system_ext_enable_secure_stop(const hal_lib* L, struct OpenCDMSystem* system,
                                           uint32_t use) {
    return CALL_OR(L, opencdm_system_ext_enable_secure_stop, HAL_MISSING_SYMBOL, system, use);
}

uint32_t hal_system_ext_reset_secure_stop(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_system_ext_reset_secure_stop, 0u, system);
}

uint32_t hal_system_ext_get_secure_stop_ids(const hal_lib* L, struct OpenCDMSystem* system,
                                            uint8_t* ids, uint16_t ids_length, uint32_t* count) {
    return CALL_OR(L, opencdm_system_ext_get_secure_stop_ids, HAL_MISSING_SYMBOL, system, ids,
                   ids_length, count);
}

uint32_t hal_system_ext_get_secure_stop(const hal_lib* L, struct OpenCDMSystem* system,
                                        const char* session_id, uint32_t session_id_length,
                                        uint8_t* raw, uint16_t* raw_size) {
    return CALL_OR(L, opencdm_system_ext_get_secure_stop, HAL_MISSING_SYMBOL, system,
                   U8(session_id), session_id_length, raw, raw_size);
}

uint32_t hal_system_ext_commit_secure_stop(const hal_lib* L, struct OpenCDMSystem* system,
                                           const char* session_id, uint32_t session_id_length,
                                           const char* response, uint32_t response_length) {
    return CALL_OR(L, opencdm_system_ext_commit_secure_stop, HAL_MISSING_SYMBOL, system,
                   U8(session_id), session_id_length, U8(response), response_length);
}

uint32_t hal_get_key_store_hash_ext(const hal_lib* L, struct OpenCDMSystem* system, uint8_t* hash,
                                    uint32_t hash_length) {
    return CALL_OR(L, opencdm_get_key_store_hash_ext, HAL_MISSING_SYMBOL, system, hash,
                   hash_length);
}

uint32_t hal_get_secure_store_hash_ext(const hal_lib* L, struct OpenCDMSystem* system,
                                       uint8_t* hash, uint32_t hash_length) {
    return CALL_OR(L, opencdm_get_secure_store_hash_ext, HAL_MISSING_SYMBOL, system, hash,
                   hash_length);
}

uint32_t hal_delete_key_store(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_delete_key_store, HAL_MISSING_SYMBOL, system);
}

uint32_t hal_delete_secure_store(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_delete_secure_store, HAL_MISSING_SYMBOL, system);
}

uint32_t hal_session_set_drm_header(const hal_lib* L, struct OpenCDMSession* session,
                                    const char* header, uint32_t length) {
    return CALL_OR(L, opencdm_session_set_drm_header, HAL_MISSING_SYMBOL, session, U8(header),
                   length);
}

uint32_t hal_session_get_challenge_data(const hal_lib* L, struct OpenCDMSession* session,
                                        uint8_t* challenge, uint32_t* size, uint32_t is_ldl) {
    return CALL_OR(L, opencdm_session_get_challenge_data, HAL_MISSING_SYMBOL, session, challenge,
                   size, is_ldl);
}

uint32_t hal_session_cancel_challenge_data(const hal_lib* L, struct OpenCDMSession* session) {
    return CALL_OR(L, opencdm_session_cancel_challenge_data, HAL_MISSING_SYMBOL, session);
}

uint32_t hal_session_store_license_data(const hal_lib* L, struct OpenCDMSession* session,
                                        const char* license, uint32_t length,
                                        uint8_t* secure_stop_id) {
    return CALL_OR(L, opencdm_session_store_license_data, HAL_MISSING_SYMBOL, session,
                   U8(license), length, secure_stop_id);
}

uint32_t hal_session_select_key_id(const hal_lib* L, struct OpenCDMSession* session,
                                   uint8_t length, const char* key_id) {
    return CALL_OR(L, opencdm_session_select_key_id, HAL_MISSING_SYMBOL, session, length,
                   U8(key_id));
}

uint32_t hal_system_teardown(const hal_lib* L, struct OpenCDMSystem* system) {
    return CALL_OR(L, opencdm_system_teardown, HAL_MISSING_SYMBOL, system);
}

uint32_t hal_session_clean_decrypt_context(const hal_lib* L, struct OpenCDMSession* session) {
    return CALL_OR(L, opencdm_session_clean_decrypt_context, HAL_MISSING_SYMBOL, session);
}

uint32_t hal_system_ext_get_properties(const hal_lib* L, struct PlayLevels* levels,
                                       const char* json) {
    return CALL_OR(L, opencdm_system_ext_get_properties, HAL_MISSING_SYMBOL, levels, json);
}

/* ---- reference CDM control ----------------------------------------------------------------- */

uint32_t hal_refcdm_configure(const hal_lib* L, const char* json, char* reply,
                              uint32_t* reply_size) {
    return CALL_OR(L, drmkit_refcdm_configure, HAL_MISSING_SYMBOL, json, reply, reply_size);
}

uint32_t hal_refcdm_test_control(const hal_lib* L, const char* json, char* reply,
                                 uint32_t* reply_size) {
    return CALL_OR(L, drmkit_refcdm_test_control, HAL_MISSING_SYMBOL, json, reply, reply_size);
}
