/*
 * Registries of live systems and sessions. Every exported call validates its handle here, so a
 * destructed (or never valid) pointer yields ERROR_INVALID_SESSION / ERROR_INVALID_ARG instead of
 * a use-after-free: handles are compared by address and never dereferenced before the lookup.
 *
 * Sessions carry two counts: `user_refs` (construct and opencdm_get_session AddRefs, released by
 * opencdm_destruct_session) and `refs` (internal: calls in progress and queued callbacks). The
 * memory is freed only when both are zero.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ref_cond = PTHREAD_COND_INITIALIZER;
static struct OpenCDMSystem* g_systems;
static struct OpenCDMSession* g_sessions;
static unsigned g_nsystems, g_nsessions;

static int session_registered_locked(const struct OpenCDMSession* s) {
    for (struct OpenCDMSession* it = g_sessions; it; it = it->next)
        if (it == s) return 1;
    return 0;
}

void rc_registry_atfork_child(void) {
    pthread_cond_init(&g_ref_cond, NULL);
}

struct OpenCDMSession* rc_session_acquire(const struct OpenCDMSession* cs) {
    if (!cs) return NULL;
    pthread_mutex_lock(&g_lock);
    struct OpenCDMSession* s = NULL;
    if (session_registered_locked(cs)) {
        s = (struct OpenCDMSession*)cs;
        s->refs++;
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

void rc_session_release(struct OpenCDMSession* s) {
    int free_now = 0;
    pthread_mutex_lock(&g_lock);
    if (--s->refs == 0 && s->dead) {
        if (s->free_on_zero) free_now = 1;
        else pthread_cond_broadcast(&g_ref_cond);
    }
    pthread_mutex_unlock(&g_lock);
    if (free_now) rc_session_free(s);
}

int rc_system_registered_locked(const struct OpenCDMSystem* sys) {
    for (struct OpenCDMSystem* it = g_systems; it; it = it->next)
        if (it == sys) return 1;
    return 0;
}

int rc_system_valid(const struct OpenCDMSystem* sys) {
    if (!sys) return 0;
    int ok = 0;
    pthread_mutex_lock(&g_lock);
    for (struct OpenCDMSystem* it = g_systems; it; it = it->next)
        if (it == sys) ok = 1;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

void rc_registry_add_system(struct OpenCDMSystem* sys) {
    pthread_mutex_lock(&g_lock);
    sys->next = g_systems;
    g_systems = sys;
    g_nsystems++;
    pthread_mutex_unlock(&g_lock);
}

int rc_registry_remove_system(struct OpenCDMSystem* sys) {
    int rc = -1;
    pthread_mutex_lock(&g_lock);
    for (struct OpenCDMSystem** pp = &g_systems; *pp; pp = &(*pp)->next) {
        if (*pp == sys) {
            *pp = sys->next;
            g_nsystems--;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void rc_registry_add_session(struct OpenCDMSession* s) {
    pthread_mutex_lock(&g_lock);
    s->next = g_sessions;
    g_sessions = s;
    g_nsessions++;
    pthread_mutex_unlock(&g_lock);
}

struct OpenCDMSession* rc_session_find(const char* id) {
    struct OpenCDMSession* s = NULL;
    pthread_mutex_lock(&g_lock);
    for (struct OpenCDMSession* it = g_sessions; it; it = it->next) {
        if (it->id[0] && !strcmp(it->id, id)) {
            s = it;
            s->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

int rc_session_claim_id(struct OpenCDMSession* s, const char* id) {
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    for (struct OpenCDMSession* it = g_sessions; it; it = it->next)
        if (it != s && it->ks == s->ks && !strcmp(it->id, id)) rc = -1;
    if (rc == 0) snprintf(s->id, sizeof s->id, "%s", id);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void rc_session_free(struct OpenCDMSession* s) {
    for (unsigned i = 0; i < s->nkeys; i++) {
        rc_key_free_ctx(&s->keys[i]);
        memset(s->keys[i].key, 0, sizeof s->keys[i].key);
    }
    free(s->keys);
    free(s->init);
    free(s->cdm_data);
    free(s->drm_header);
    free(s->challenge);
    pthread_mutex_destroy(&s->mu);
    s->magic = 0;
    free(s);
}

OpenCDMError rc_session_destruct(struct OpenCDMSession* s) {
    if (!s) return ERROR_INVALID_SESSION;
    pthread_mutex_lock(&g_lock);
    struct OpenCDMSession** pp = &g_sessions;
    while (*pp && *pp != s) pp = &(*pp)->next;
    if (!*pp) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_INVALID_SESSION;
    }
    if (--s->user_refs > 0) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_NONE;
    }
    *pp = s->next;
    g_nsessions--;
    s->dead = 1; /* revokes callbacks: the worker skips jobs of dead sessions */
    rc_drop_jobs_locked(s);
    int free_now = 0;
    if (rc_on_worker()) {
        /* Destructed from inside a callback: waiting would deadlock; the last release frees. */
        s->free_on_zero = 1;
        free_now = s->refs == 0;
    } else {
        while (s->refs > 0) pthread_cond_wait(&g_ref_cond, &g_lock);
        free_now = 1;
    }
    pthread_mutex_unlock(&g_lock);
    if (free_now) rc_session_free(s);
    rc_worker_maybe_stop();
    return ERROR_NONE;
}

struct OpenCDMSession* rc_session_with_usable_key(const struct OpenCDMSystem* sys,
                                                  const uint8_t* kid, size_t len) {
    /* Snapshot candidates under g_lock, then inspect each under its own lock (lock order). */
    struct OpenCDMSession* cand[256];
    unsigned n = 0;
    pthread_mutex_lock(&g_lock);
    for (struct OpenCDMSession* it = g_sessions; it && n < 256; it = it->next) {
        if (sys && it->system != sys) continue;
        it->refs++;
        cand[n++] = it;
    }
    pthread_mutex_unlock(&g_lock);
    struct OpenCDMSession* found = NULL;
    for (unsigned i = 0; i < n; i++) {
        struct OpenCDMSession* s = cand[i];
        if (!found) {
            pthread_mutex_lock(&s->mu);
            rc_key* k = s->closed ? NULL : rc_session_key(s, kid, len);
            int usable = k && k->has_key && k->status == Usable;
            pthread_mutex_unlock(&s->mu);
            if (usable) {
                pthread_mutex_lock(&g_lock);
                if (!s->dead) {
                    s->user_refs++;
                    found = s;
                }
                pthread_mutex_unlock(&g_lock);
            }
        }
        rc_session_release(s);
    }
    return found;
}

void rc_stats(unsigned* systems, unsigned* sessions, unsigned* pending) {
    pthread_mutex_lock(&g_lock);
    *systems = g_nsystems;
    *sessions = g_nsessions;
    *pending = rc_pending_locked();
    pthread_mutex_unlock(&g_lock);
}
