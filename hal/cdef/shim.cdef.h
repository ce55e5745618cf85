/*
 * cffi declarations of the shim (hal/csrc/shim.h) and of the extern "Python" callbacks.
 * Hand-kept in step with shim.h; in API mode the C compiler checks them against it.
 */
typedef struct hal_lib hal_lib;
#define HAL_MISSING_SYMBOL ...
#define HAL_OPEN_DLOPEN_FAILED ...
#define HAL_OPEN_MISSING_SYMBOLS ...
#define HAL_OPEN_OUT_OF_MEMORY ...
hal_lib* hal_lib_open(const char* path, int* reason, char* error, size_t error_size);
void hal_lib_close(hal_lib* lib);
int hal_lib_has(const hal_lib* lib, const char* symbol);
size_t hal_lib_symbol_count(void);
const char* hal_lib_symbol_name(size_t index);
int hal_lib_symbol_required(size_t index);
struct OpenCDMSystem* hal_create_system(const hal_lib* L, const char* key_system);
uint32_t hal_create_system_extended(const hal_lib* L, const char* key_system, struct OpenCDMSystem** system);
uint32_t hal_destruct_system(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_is_type_supported(const hal_lib* L, const char* key_system, const char* mime_type);
uint32_t hal_system_get_metadata(const hal_lib* L, struct OpenCDMSystem* system, char* metadata, uint16_t* size);
uint32_t hal_system_get_version(const hal_lib* L, struct OpenCDMSystem* system, char* version);
uint32_t hal_system_get_drm_time(const hal_lib* L, struct OpenCDMSystem* system, uint64_t* time);
struct OpenCDMSession* hal_get_session(const hal_lib* L, const char* key_id, uint8_t length, uint32_t wait_ms);
struct OpenCDMSession* hal_get_system_session(const hal_lib* L, struct OpenCDMSystem* system, const char* key_id, uint8_t length, uint32_t wait_ms);
uint32_t hal_system_supports_server_certificate(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_system_set_server_certificate(const hal_lib* L, struct OpenCDMSystem* system, const char* cert, uint16_t length);
uint32_t hal_get_metric_system_data(const hal_lib* L, struct OpenCDMSystem* system, uint32_t* length, uint8_t* buffer);
uint32_t hal_construct_session(const hal_lib* L, struct OpenCDMSystem* system, uint32_t license_type, const char* init_data_type, const char* init_data, uint16_t init_data_length, const char* cdm_data, uint16_t cdm_data_length, OpenCDMSessionCallbacks* callbacks, void* user_data, struct OpenCDMSession** session);
uint32_t hal_destruct_session(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_load(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_update(const hal_lib* L, struct OpenCDMSession* session, const char* message, uint16_t length);
uint32_t hal_session_remove(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_metadata(const hal_lib* L, struct OpenCDMSession* session, char* metadata, uint16_t* size);
uint32_t hal_session_resetoutputprotection(const hal_lib* L, struct OpenCDMSession* session);
const char* hal_session_id(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_has_key_id(const hal_lib* L, struct OpenCDMSession* session, uint8_t length, const char* key_id);
uint32_t hal_session_status(const hal_lib* L, struct OpenCDMSession* session, const char* key_id, uint8_t length);
uint32_t hal_session_error(const hal_lib* L, struct OpenCDMSession* session, const char* key_id, uint8_t length);
uint32_t hal_session_system_error(const hal_lib* L, struct OpenCDMSession* session);
const char* hal_session_buffer_id(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_close(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_decrypt(const hal_lib* L, struct OpenCDMSession* session, uint8_t* buffer, uint32_t length, uint32_t scheme, uint32_t crypt_blocks, uint32_t skip_blocks, const char* iv, uint16_t iv_length, const char* key_id, uint16_t key_id_length, uint32_t init_with_last15);
uint32_t hal_session_decrypt_v2(const hal_lib* L, struct OpenCDMSession* session, uint8_t* buffer, uint32_t length, uint32_t scheme, uint32_t crypt_blocks, uint32_t skip_blocks, const char* iv, uint8_t iv_length, const char* key_id, uint8_t key_id_length, const char* subsamples, uint8_t subsample_count, uint16_t height, uint16_t width, uint32_t media_type);
uint32_t hal_session_decrypt_legacy(const hal_lib* L, struct OpenCDMSession* session, uint8_t* buffer, uint32_t length, const char* iv, uint16_t iv_length, const char* key_id, uint16_t key_id_length, uint32_t init_with_last15);
uint32_t hal_get_metric_session_data(const hal_lib* L, struct OpenCDMSession* session, uint32_t* length, uint8_t* buffer);
void hal_dispose(const hal_lib* L);
uint32_t hal_system_ext_get_ldl_session_limit(const hal_lib* L, struct OpenCDMSystem* system, uint32_t* limit);
uint32_t hal_system_ext_is_secure_stop_enabled(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_system_ext_enable_secure_stop(const hal_lib* L, struct OpenCDMSystem* system, uint32_t use);
uint32_t hal_system_ext_reset_secure_stop(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_system_ext_get_secure_stop_ids(const hal_lib* L, struct OpenCDMSystem* system, uint8_t* ids, uint16_t ids_length, uint32_t* count);
uint32_t hal_system_ext_get_secure_stop(const hal_lib* L, struct OpenCDMSystem* system, const char* session_id, uint32_t session_id_length, uint8_t* raw, uint16_t* raw_size);
uint32_t hal_system_ext_commit_secure_stop(const hal_lib* L, struct OpenCDMSystem* system, const char* session_id, uint32_t session_id_length, const char* response, uint32_t response_length);
uint32_t hal_get_key_store_hash_ext(const hal_lib* L, struct OpenCDMSystem* system, uint8_t* hash, uint32_t hash_length);
uint32_t hal_get_secure_store_hash_ext(const hal_lib* L, struct OpenCDMSystem* system, uint8_t* hash, uint32_t hash_length);
uint32_t hal_delete_key_store(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_delete_secure_store(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_session_set_drm_header(const hal_lib* L, struct OpenCDMSession* session, const char* header, uint32_t length);
uint32_t hal_session_get_challenge_data(const hal_lib* L, struct OpenCDMSession* session, uint8_t* challenge, uint32_t* size, uint32_t is_ldl);
uint32_t hal_session_cancel_challenge_data(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_session_store_license_data(const hal_lib* L, struct OpenCDMSession* session, const char* license, uint32_t length, uint8_t* secure_stop_id);
uint32_t hal_session_select_key_id(const hal_lib* L, struct OpenCDMSession* session, uint8_t length, const char* key_id);
uint32_t hal_system_teardown(const hal_lib* L, struct OpenCDMSystem* system);
uint32_t hal_session_clean_decrypt_context(const hal_lib* L, struct OpenCDMSession* session);
uint32_t hal_system_ext_get_properties(const hal_lib* L, struct PlayLevels* levels, const char* json);
uint32_t hal_refcdm_configure(const hal_lib* L, const char* json, char* reply, uint32_t* reply_size);
uint32_t hal_refcdm_test_control(const hal_lib* L, const char* json, char* reply, uint32_t* reply_size);

/* The static OpenCDMSessionCallbacks every session is constructed with (defined in _build.py's
 * C prelude, pointing at the extern "Python" functions below). */
OpenCDMSessionCallbacks* hal_session_callbacks(void);

extern "Python" void hal_on_challenge(struct OpenCDMSession* session, void* user_data,
                                      const char* url, const uint8_t* challenge,
                                      uint16_t challenge_length);
extern "Python" void hal_on_key_update(struct OpenCDMSession* session, void* user_data,
                                       const uint8_t* key_id, uint8_t length);
extern "Python" void hal_on_error(struct OpenCDMSession* session, void* user_data,
                                  const char* message);
extern "Python" void hal_on_keys_updated(const struct OpenCDMSession* session, void* user_data);
