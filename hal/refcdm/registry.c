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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcdm.h"

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ref_cond = PTHREAD_COND_INITIALIZER;
static struct OpenCDMSystem* g_systems;
static struct OpenCDMSession* g_sessions; /* doubly linked, newest first */
static unsigned g_nsessions, g_nsystems;

/* ---- hash tables of live sessions (g_lock) ----------------------------------------------------
 * Every session call validates its handle, so the lookups must not grow with the number of open
 * sessions. Open addressing with linear probing, at most half full, backward-shift deletion (no
 * tombstones, so probe lengths do not degrade under create/destroy churn):
 *   g_live  every registered session, keyed by address (handle validation);
 *   g_byid  every registered session with a non-empty id, keyed by (key system, id) -- ids are
 *           unique per key system (rc_session_claim_id), so each key has at most one entry.
 * Both are reserved for all registered sessions at registration, so claiming an id never
 * allocates. Sessions with the id "" are only counted (g_empty_ids), which is all the uniqueness
 * rule needs. The list (g_sessions) stays for the scans by key id and keeps O(1) unlinking. */
typedef struct {
    struct OpenCDMSession** slot; /* NULL: no table yet (nothing registered) */
    size_t mask;                  /* capacity - 1, capacity a power of two */
    size_t n;
} rc_stab;

typedef size_t (*rc_stab_hash)(const struct OpenCDMSession* s);

enum { NKS = KS_NETFLIX + 1 };
static rc_stab g_live, g_byid;
static unsigned g_empty_ids[NKS]; /* registered sessions whose id is "" */
static uint64_t g_reg_seq;

static size_t mix64(uint64_t x) { /* splitmix64 finaliser: spreads aligned addresses */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t hash_ptr(const struct OpenCDMSession* s) {
    return mix64((uint64_t)(uintptr_t)s);
}

static size_t hash_id(rc_ks ks, const char* id) { /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)ks;
    for (; *id; id++) {
        h ^= (uint8_t)*id;
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

static size_t hash_entry_id(const struct OpenCDMSession* s) {
    return hash_id(s->ks, s->id);
}

static void stab_put(rc_stab* t, rc_stab_hash h, struct OpenCDMSession* s) {
    size_t i = h(s) & t->mask;
    while (t->slot[i]) i = (i + 1) & t->mask;
    t->slot[i] = s;
    t->n++;
}

/* Room for `want` entries at most half full: 0, or -1 (out of memory; table unchanged). */
static int stab_reserve(rc_stab* t, rc_stab_hash h, size_t want) {
    size_t cap = t->slot ? t->mask + 1 : 0;
    if (want <= cap / 2) return 0;
    size_t ncap = cap ? cap : 16;
    while (want > ncap / 2) {
        if (ncap > SIZE_MAX / 4 / sizeof *t->slot) return -1;
        ncap *= 2;
    }
    struct OpenCDMSession** ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    struct OpenCDMSession** old = t->slot;
    t->slot = ns;
    t->mask = ncap - 1;
    t->n = 0;
    for (size_t i = 0; i < cap; i++)
        if (old[i]) stab_put(t, h, old[i]);
    free(old);
    return 0;
}

static void stab_free(rc_stab* t) {
    free(t->slot);
    t->slot = NULL;
    t->mask = 0;
    t->n = 0;
}

/* Slot of exactly `s` (compared by address, never dereferenced when `h` is hash_ptr). */
static int stab_index_of(const rc_stab* t, rc_stab_hash h, const struct OpenCDMSession* s,
                         size_t* at) {
    if (!t->slot) return 0;
    for (size_t i = h(s) & t->mask; t->slot[i]; i = (i + 1) & t->mask) {
        if (t->slot[i] == s) {
            if (at) *at = i;
            return 1;
        }
    }
    return 0;
}

static void stab_remove_at(rc_stab* t, rc_stab_hash h, size_t i) {
    /* Backward shift: pull later entries of the probe run into the hole unless that would move
     * one before its home slot. */
    for (size_t j = (i + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
        size_t home = h(t->slot[j]) & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i] = NULL;
    t->n--;
}

/* The registered session of key system `ks` with the (non-empty) id `id`, or NULL. */
static struct OpenCDMSession* byid_lookup(rc_ks ks, const char* id) {
    if (!g_byid.slot) return NULL;
    for (size_t i = hash_id(ks, id) & g_byid.mask; g_byid.slot[i]; i = (i + 1) & g_byid.mask) {
        struct OpenCDMSession* e = g_byid.slot[i];
        if (e->ks == ks && !strcmp(e->id, id)) return e;
    }
    return NULL;
}

/* Indexes / unindexes s->id of a registered session (call around every change of s->id). */
static void byid_add(struct OpenCDMSession* s) {
    if (s->id[0]) stab_put(&g_byid, hash_entry_id, s);
    else g_empty_ids[s->ks]++;
}

static void byid_remove(struct OpenCDMSession* s) {
    size_t at;
    if (!s->id[0]) g_empty_ids[s->ks]--;
    else if (stab_index_of(&g_byid, hash_entry_id, s, &at)) stab_remove_at(&g_byid, hash_entry_id, at);
}

static int session_registered_locked(const struct OpenCDMSession* s) {
    return stab_index_of(&g_live, hash_ptr, s, NULL);
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

int rc_registry_add_session(struct OpenCDMSession* s) {
    pthread_mutex_lock(&g_lock);
    size_t want = (size_t)g_nsessions + 1;
    if (stab_reserve(&g_live, hash_ptr, want) || stab_reserve(&g_byid, hash_entry_id, want)) {
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    stab_put(&g_live, hash_ptr, s);
    byid_add(s);
    s->prev = NULL;
    s->next = g_sessions;
    if (g_sessions) g_sessions->prev = s;
    g_sessions = s;
    s->reg_seq = ++g_reg_seq;
    g_nsessions++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* g_lock held; `live_at` is the session's slot in g_live. */
static void unregister_session_locked(struct OpenCDMSession* s, size_t live_at) {
    stab_remove_at(&g_live, hash_ptr, live_at);
    byid_remove(s);
    if (s->prev) s->prev->next = s->next;
    else g_sessions = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    if (--g_nsessions == 0) { /* give the tables back when the last session goes */
        stab_free(&g_live);
        stab_free(&g_byid);
    }
}

struct OpenCDMSession* rc_session_find(const char* id) {
    if (!id[0]) return NULL; /* sessions without an id are not addressable */
    struct OpenCDMSession* s = NULL;
    pthread_mutex_lock(&g_lock);
    /* Ids are unique per key system only: of several, the most recently registered wins. */
    for (int ks = 0; ks < NKS; ks++) {
        struct OpenCDMSession* e = byid_lookup((rc_ks)ks, id);
        if (e && (!s || e->reg_seq > s->reg_seq)) s = e;
    }
    if (s) s->refs++;
    pthread_mutex_unlock(&g_lock);
    return s;
}

int rc_session_claim_id(struct OpenCDMSession* s, const char* id) {
    pthread_mutex_lock(&g_lock);
    int registered = session_registered_locked(s);
    int taken;
    if (id[0]) {
        struct OpenCDMSession* holder = byid_lookup(s->ks, id);
        taken = holder && holder != s;
    } else {
        /* "" is taken when another registered session of the key system has it */
        unsigned others = g_empty_ids[s->ks] - (registered && !s->id[0] ? 1u : 0u);
        taken = others > 0;
    }
    if (!taken) {
        if (registered) byid_remove(s);
        snprintf(s->id, sizeof s->id, "%s", id);
        if (registered) byid_add(s); /* capacity reserved at registration */
    }
    pthread_mutex_unlock(&g_lock);
    return taken ? -1 : 0;
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
    size_t live_at;
    if (!stab_index_of(&g_live, hash_ptr, s, &live_at)) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_INVALID_SESSION;
    }
    if (--s->user_refs > 0) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_NONE;
    }
    unregister_session_locked(s, live_at);
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
    /* Snapshot candidates under g_lock, then inspect each under its own lock (lock order). All
     * live sessions are candidates (newest first); only if the snapshot cannot be allocated are
     * the newest 256 inspected. Linear, but this call is not on a per-sample path. */
    struct OpenCDMSession* local[256];
    struct OpenCDMSession** cand = local;
    unsigned cap = 256, n = 0;
    pthread_mutex_lock(&g_lock);
    if (g_nsessions > cap) {
        struct OpenCDMSession** big = malloc(g_nsessions * sizeof *big);
        if (big) {
            cand = big;
            cap = g_nsessions;
        }
    }
    for (struct OpenCDMSession* it = g_sessions; it && n < cap; it = it->next) {
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
    if (cand != local) free(cand);
    return found;
}

void rc_stats(unsigned* systems, unsigned* sessions, unsigned* pending) {
    pthread_mutex_lock(&g_lock);
    *systems = g_nsystems;
    *sessions = g_nsessions;
    *pending = rc_pending_locked();
    pthread_mutex_unlock(&g_lock);
}
